package config

// SourceWorkers is the source of a group whose runs are derived from the
// batches that sharded scan workers (mcpwarden scan --db ADDR --batch ID
// --group NAME --shard I/N) store in the database, instead of scans run
// by watch itself. Its schedule is how often watch looks for complete
// batches.
const SourceWorkers = "workers"

// workersGroup checks the fields of a group with a source.
func (v *validator) workersGroup(what string, f *groupFile) {
	if f.Source != SourceWorkers {
		v.add("%s: unknown source %q (want %s, or no source to scan the targets)", what, f.Source, SourceWorkers)
		return
	}
	if f.Host || len(f.Targets) > 0 || len(f.TargetFiles) > 0 || len(f.Exclude) > 0 || len(f.Paths) > 0 ||
		f.Ports != "" || f.Scan != nil {
		v.add("%s: source: workers takes its records from the workers; targets, target_files, host, ports, paths, exclude and scan belong on their command line", what)
	}
}
