//go:build race

package scan_test

// raceEnabled is true in a -race build.
const raceEnabled = true
