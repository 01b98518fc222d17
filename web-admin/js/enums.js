// The API's closed sets and state machines, as the server defines them
// (see /openapi.json and DOMAIN.md). The server still decides every move.

export const SEVERITIES = ['critical', 'high', 'medium', 'low'];
export const INCIDENT_STATUSES = ['new', 'acknowledged', 'in_progress', 'escalated', 'resolved', 'closed'];
export const OPEN_INCIDENT_STATUSES = ['new', 'acknowledged', 'in_progress', 'escalated'];
export const CATEGORIES = ['hardware', 'software', 'network', 'other'];

/** Incident transitions; reopening (resolved → in_progress) needs a reason. */
export const INCIDENT_NEXT = {
  new: ['acknowledged', 'escalated'],
  acknowledged: ['in_progress', 'escalated'],
  in_progress: ['resolved', 'escalated'],
  escalated: ['in_progress', 'resolved'],
  resolved: ['closed', 'in_progress'],
  closed: [],
};

export const WO_STATUSES = ['draft', 'assigned', 'in_repair', 'qa', 'completed', 'approved'];
export const WO_FORWARD = {
  draft: ['assigned'],
  assigned: ['in_repair'],
  in_repair: ['qa', 'completed'],
  qa: ['completed'],
  completed: ['approved'],
  approved: [],
};
/** Where a work order can be sent back to (rework). */
export const WO_REWORK = {
  draft: [],
  assigned: ['draft'],
  in_repair: ['assigned', 'draft'],
  qa: ['in_repair', 'assigned'],
  completed: ['qa', 'in_repair'],
  approved: ['completed'],
};
export const REWORK_CATEGORIES = ['quality', 'incomplete', 'wrong_parts', 'safety', 'other'];
export const APPROVAL_TYPES = ['school_signoff', 'technical', 'financial'];
export const COVERAGE_LEVELS = ['county', 'sub_county', 'cluster'];
export const STAFF_ROLES = ['lead_technician', 'assistant_technician', 'storekeeper'];
export const CSV_KINDS = ['counties', 'sub_counties', 'schools', 'school_contacts', 'device_models', 'devices', 'network_identities', 'parts', 'part_compatibility', 'vendor_skus'];

/** Words for the action that moves to a status. */
export const MOVE_LABEL = {
  acknowledged: 'Acknowledge',
  in_progress: 'Start work',
  escalated: 'Escalate',
  resolved: 'Resolve',
  closed: 'Close',
  assigned: 'Mark assigned',
  in_repair: 'Start repair',
  qa: 'Send to QA',
  completed: 'Mark completed',
  approved: 'Approve work order',
};
export const PROJECT_TYPES = ['full_installation', 'device_refresh', 'support', 'repair', 'training'];
export const PHASE_TYPES = ['demo', 'survey', 'procurement', 'install', 'integrate', 'commission', 'ops', 'training', 'support', 'repair'];
export const PHASE_STATUSES = ['pending', 'in_progress', 'blocked', 'done'];
export const OWNER_ROLES = ['sales', 'engineer', 'lead_tech', 'admin'];
export const ROOM_TYPES = ['classroom', 'lab', 'office', 'server_room', 'store', 'other'];
export const BOQ_CATEGORIES = ['cabling', 'switches', 'racks', 'power', 'labor', 'devices', 'other'];

// ---------- sync (docs/sync.md) ----------

/** An edge's link as it sees it (GET /v1/sync/status `state`), in a few words. */
export const SYNC_STATE_LABEL = {
  ok: 'In sync',
  offline: 'Offline',
  reenroll: 'Must be re-enrolled',
  rebootstrap: 'Re-bootstrap needed',
};
/** How bad a link state or an edge status is: ok, warn or bad (for badges). */
export const SYNC_SEVERITY = { ok: 'ok', active: 'ok', offline: 'warn', gap: 'warn', reenroll: 'bad', rebootstrap: 'bad', refused: 'bad' };
/** Central's record of an edge (GET /v1/sync/edges `status`). */
export const EDGE_STATUS_LABEL = {
  active: 'Active',
  gap: 'Waiting for a resend',
  refused: 'Refused (stale epoch)',
};
/** Why a merge did not keep a value (conflict `reason`). */
export const CONFLICT_REASON = {
  lww: 'Both sides changed it: the later write won',
  state_machine: 'A finished status stays finished',
  clock_ahead: 'A clock from the future was quarantined',
};
/** Edges not heard from for longer than this are called stale. */
export const EDGE_STALE_MS = 10 * 60e3;
/** Whether central has not heard from an edge (since it enrolled) for over 10 minutes. */
export function edgeSilent(edge, now = Date.now()) {
  const last = new Date(edge.lastSeenAt || edge.enrolledAt).getTime();
  return !(now - last <= EDGE_STALE_MS);
}
