-- Alert outbox, SQLite dialect. One row per event and route: the unique
-- key is what keeps an alert from being enqueued twice. payload is the
-- event as JSON, so an alert outlives the pruning of its event.
CREATE TABLE alerts (
	id           INTEGER PRIMARY KEY,
	event_id     BIGINT NOT NULL,
	route        TEXT NOT NULL,
	grp          TEXT NOT NULL,
	payload      TEXT NOT NULL,
	status       TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt BIGINT NOT NULL,
	last_error   TEXT NOT NULL DEFAULT '',
	created      BIGINT NOT NULL,
	delivered    BIGINT,
	UNIQUE (event_id, route)
);
CREATE INDEX alerts_due ON alerts(status, next_attempt);

-- The id of the last event whose alerts were enqueued. An existing
-- database starts past its events: history is not alerted.
CREATE TABLE alert_cursor (
	name     TEXT PRIMARY KEY,
	event_id BIGINT NOT NULL
);
INSERT INTO alert_cursor (name, event_id) SELECT 'alerts', COALESCE(MAX(id), 0) FROM events;
