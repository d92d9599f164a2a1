-- Sharded scan workers, SQLite dialect (mcpwarden scan --db ... --batch ID --shard I/N).
-- A batch is one sweep of a target group split into shards; each worker
-- stores its shard in one transaction, and the watch derives one run from
-- a batch once all its shards are stored. run_id is the run deriving or
-- having derived the batch: the batch is consumed when that run is
-- complete, and free again when it was discarded.
CREATE TABLE worker_batches (
	batch   TEXT PRIMARY KEY,
	grp     TEXT NOT NULL,
	shards  INTEGER NOT NULL CHECK (shards > 0),
	created BIGINT NOT NULL,
	run_id  BIGINT
);
CREATE INDEX worker_batches_grp ON worker_batches(grp);

-- One row per stored shard; a retry of a shard replaces it.
CREATE TABLE worker_shards (
	batch  TEXT NOT NULL,
	shard  INTEGER NOT NULL CHECK (shard >= 0),
	probed BIGINT NOT NULL,
	stored BIGINT NOT NULL,
	PRIMARY KEY (batch, shard)
);

-- The scan records of a shard (result.Endpoint as JSON), in scan order.
-- Deleted once the batch is consumed.
CREATE TABLE worker_records (
	batch  TEXT NOT NULL,
	shard  INTEGER NOT NULL,
	seq    INTEGER NOT NULL,
	record TEXT NOT NULL,
	PRIMARY KEY (batch, shard, seq)
);
