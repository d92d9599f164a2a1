package config_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/watch/config"
)

func ExampleParse() {
	c, err := config.Parse(strings.NewReader(`
groups:
  - name: lab
    targets: [127.0.0.10-17]
    ports: "3000"
    interval: 1m
  - name: this-machine
    host: true
    cron: "0 * * * *"
alerts:
  - {name: console, type: log, min_severity: high}
`), "watch.yaml", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	from := time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)
	for _, g := range c.Groups {
		fmt.Println(g.Name, g.Schedule, g.Schedule.Next(from).Format(time.TimeOnly))
	}
	fmt.Println(c.Alerts[0].Name, c.Alerts[0].MinSeverity)

	_, err = config.Parse(strings.NewReader("groups: [{name: x, interval: 1ms}]\nalerts: [{type: pager}]\n"), "bad.yaml", nil)
	fmt.Println(err)
	// Output:
	// lab every 1m0s 12:31:00
	// this-machine cron 0 * * * * 13:00:00
	// console high
	// watch config bad.yaml:
	//   group "x": no targets: set targets, target_files, or host: true
	//   group "x": interval "1ms" is shorter than 1s
	//   alerts[0]: name is required (it keys the delivery of each event)
	//   alerts[0]: unknown type "pager" (want webhook, slack, command or log)
}
