-- Watch store schema, SQLite dialect. Times are Unix nanoseconds (UTC);
-- booleans are 0/1.
CREATE TABLE runs (
	id       INTEGER PRIMARY KEY,
	grp      TEXT NOT NULL,
	started  BIGINT NOT NULL,
	finished BIGINT,
	status   TEXT NOT NULL CHECK (status IN ('running', 'complete', 'discarded'))
);
CREATE INDEX runs_status ON runs(status, started);

CREATE TABLE endpoints (
	id            INTEGER PRIMARY KEY,
	url           TEXT NOT NULL UNIQUE,
	first_seen    BIGINT NOT NULL,
	last_seen     BIGINT NOT NULL,
	present       INTEGER NOT NULL DEFAULT 0,
	present_since BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE observations (
	id            INTEGER PRIMARY KEY,
	run_id        BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
	endpoint_id   BIGINT NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
	observed      BIGINT NOT NULL,
	status        TEXT NOT NULL,
	auth_required INTEGER NOT NULL,
	auth_scheme   TEXT NOT NULL,
	tools_listed  INTEGER NOT NULL,
	conclusive    INTEGER NOT NULL,
	record        TEXT NOT NULL,
	UNIQUE (run_id, endpoint_id)
);
CREATE INDEX observations_endpoint ON observations(endpoint_id, id);
CREATE INDEX observations_observed ON observations(observed);

CREATE TABLE tool_defs (
	hash         TEXT PRIMARY KEY,
	name         TEXT NOT NULL,
	description  TEXT NOT NULL,
	input_schema TEXT NOT NULL,
	annotations  TEXT NOT NULL
);

CREATE TABLE observation_tools (
	observation_id BIGINT NOT NULL REFERENCES observations(id) ON DELETE CASCADE,
	position       INTEGER NOT NULL,
	hash           TEXT NOT NULL REFERENCES tool_defs(hash),
	PRIMARY KEY (observation_id, position)
);
CREATE INDEX observation_tools_hash ON observation_tools(hash);

CREATE TABLE findings (
	observation_id BIGINT NOT NULL REFERENCES observations(id) ON DELETE CASCADE,
	position       INTEGER NOT NULL,
	rule           TEXT NOT NULL,
	severity       TEXT NOT NULL,
	suppressed     INTEGER NOT NULL,
	PRIMARY KEY (observation_id, position)
);
CREATE INDEX findings_rule ON findings(rule);

-- Events keep their run id without a foreign key: they outlive pruned runs.
CREATE TABLE events (
	id        INTEGER PRIMARY KEY,
	time      BIGINT NOT NULL,
	type      TEXT NOT NULL,
	url       TEXT NOT NULL,
	subject   TEXT NOT NULL,
	detail    TEXT NOT NULL,
	run_id    BIGINT NOT NULL,
	dedup_key TEXT NOT NULL UNIQUE
);
CREATE INDEX events_time ON events(time, id);
CREATE INDEX events_url ON events(url, id);
