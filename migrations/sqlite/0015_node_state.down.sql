DROP TABLE node_state;
