-- Peers of the listeners of host-audit groups, as the connection sampler
-- of watch saw them: one row per listener ("ADDR:PORT", the bound address)
-- and peer address. first_seen and last_seen bound the samples that saw the
-- peer; samples counts them. Times are Unix nanoseconds (UTC); booleans
-- are 0/1.
CREATE TABLE peers (
	listener   TEXT NOT NULL,
	peer       TEXT NOT NULL,
	grp        TEXT NOT NULL,
	url        TEXT NOT NULL,
	peer_port  INTEGER NOT NULL,
	class      TEXT NOT NULL,
	on_host    INTEGER NOT NULL,
	gate       INTEGER NOT NULL,
	gated      INTEGER NOT NULL,
	pid        INTEGER NOT NULL,
	process    TEXT NOT NULL,
	first_seen BIGINT NOT NULL,
	last_seen  BIGINT NOT NULL,
	samples    BIGINT NOT NULL,
	PRIMARY KEY (listener, peer)
);
CREATE INDEX peers_last_seen ON peers(last_seen);
CREATE INDEX peers_url ON peers(url);
