DROP TABLE sync_blob_queue;
DROP TABLE sync_rejections;
DROP TABLE sync_conflicts;
DROP TABLE sync_edges;
DROP TABLE sync_outbox;
DROP TABLE sync_rows;
