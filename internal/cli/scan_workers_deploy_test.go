package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mcpwarden/mcpwarden/internal/watch/config"
)

// deployDir holds the Kubernetes example of the scale-out.
var deployDir = filepath.Join("..", "..", "deploy")

type manifest struct {
	file string
	doc  map[string]any
}

func (m manifest) String() string {
	return fmt.Sprintf("%s %s/%s", m.file, get(m.doc, "kind"), name(m.doc))
}

func name(doc map[string]any) string {
	if n, _ := get(doc, "metadata", "name").(string); n != "" {
		return n
	}
	n, _ := get(doc, "metadata", "generateName").(string)
	return n
}

// get walks maps by key.
func get(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func loadManifests(t *testing.T) []manifest {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(deployDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", deployDir, err)
	}
	var out []manifest
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var doc map[string]any
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if doc == nil {
				continue
			}
			if get(doc, "kind") == nil || (get(doc, "apiVersion") == nil) {
				t.Fatalf("%s: a document without kind or apiVersion", f)
			}
			out = append(out, manifest{file: filepath.Base(f), doc: doc})
		}
	}
	return out
}

// podSpec returns the pod template spec of a workload, or nil.
func podSpec(doc map[string]any) map[string]any {
	var p any
	switch get(doc, "kind") {
	case "Deployment", "Job":
		p = get(doc, "spec", "template", "spec")
	case "CronJob":
		p = get(doc, "spec", "jobTemplate", "spec", "template", "spec")
	}
	m, _ := p.(map[string]any)
	return m
}

func jobSpec(doc map[string]any) map[string]any {
	var p any
	switch get(doc, "kind") {
	case "Job":
		p = get(doc, "spec")
	case "CronJob":
		p = get(doc, "spec", "jobTemplate", "spec")
	}
	m, _ := p.(map[string]any)
	return m
}

func argsOf(c any) []string {
	var out []string
	for _, a := range list(get(c, "args")) {
		out = append(out, fmt.Sprint(a))
	}
	return out
}

// expand replaces the $(VAR) references Kubernetes expands in args.
func expand(args []string, vars map[string]string) []string {
	re := regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = re.ReplaceAllStringFunc(a, func(m string) string {
			if v, ok := vars[m[2:len(m)-1]]; ok {
				return v
			}
			return m
		})
	}
	return out
}

func configMapData(t *testing.T, ms []manifest, cm, key string) string {
	t.Helper()
	for _, m := range ms {
		if get(m.doc, "kind") == "ConfigMap" && name(m.doc) == cm {
			if s, ok := get(m.doc, "data", key).(string); ok {
				return s
			}
		}
	}
	t.Fatalf("no ConfigMap %s with key %s", cm, key)
	return ""
}

func TestDeployManifests(t *testing.T) {
	ms := loadManifests(t)
	var jobs, deployments int
	groups := map[string]bool{}
	for _, m := range ms {
		ps := podSpec(m.doc)
		if ps == nil {
			continue
		}
		t.Run(m.String(), func(t *testing.T) {
			for _, k := range []string{"hostNetwork", "hostPID", "hostIPC"} {
				if v, _ := ps[k].(bool); v {
					t.Errorf("%s: true", k)
				}
			}
			if v, _ := get(ps, "securityContext", "runAsNonRoot").(bool); !v {
				t.Error("securityContext.runAsNonRoot is not true")
			}
			cs := list(ps["containers"])
			if len(cs) == 0 {
				t.Fatal("no containers")
			}
			for _, c := range cs {
				for _, r := range []string{"cpu", "memory"} {
					if get(c, "resources", "limits", r) == nil {
						t.Errorf("container %v: no %s limit", get(c, "name"), r)
					}
				}
				if v, ok := get(c, "securityContext", "allowPrivilegeEscalation").(bool); !ok || v {
					t.Errorf("container %v: allowPrivilegeEscalation is not false", get(c, "name"))
				}
				if v, _ := get(c, "securityContext", "privileged").(bool); v {
					t.Errorf("container %v: privileged", get(c, "name"))
				}
				// Secrets reach the process through the environment, never
				// as literals in args.
				for _, a := range argsOf(c) {
					if strings.Contains(a, "password") || regexp.MustCompile(`postgres(ql)?://`).MatchString(a) {
						t.Errorf("container %v: credential-like literal in args: %q", get(c, "name"), a)
					}
				}
			}
			c := cs[0]
			args := argsOf(c)
			if slices.Contains(args, "--db=$(MCPWARDEN_DB)") {
				env := map[string]string{}
				for _, e := range list(get(c, "env")) {
					if get(e, "valueFrom", "secretKeyRef", "name") != nil {
						env[fmt.Sprint(get(e, "name"))] = fmt.Sprint(get(e, "valueFrom", "secretKeyRef", "name"))
					}
				}
				if env["MCPWARDEN_DB"] == "" || env["PGPASSWORD"] == "" {
					t.Errorf("MCPWARDEN_DB and PGPASSWORD do not come from a Secret: %v", env)
				}
			} else {
				t.Errorf("no --db=$(MCPWARDEN_DB) in args %q", args)
			}
			switch get(m.doc, "kind") {
			case "Job", "CronJob":
				jobs++
				checkWorkerJob(t, ms, m, c, groups)
			case "Deployment":
				deployments++
				checkWatchDeployment(t, ms, c, groups)
			}
		})
	}
	if jobs < 1 || deployments != 1 {
		t.Fatalf("%d scan Jobs and %d watch Deployments, want at least 1 and 1", jobs, deployments)
	}
	for g := range groups {
		if w, ok := strings.CutPrefix(g, "worker:"); ok && !groups["watch:"+w] {
			t.Errorf("the workers feed group %q, which the watch config has no source: workers group for", w)
		}
	}
	// The kustomization lists files that exist.
	for _, m := range ms {
		if get(m.doc, "kind") != "Kustomization" {
			continue
		}
		for _, r := range list(get(m.doc, "resources")) {
			if _, err := os.Stat(filepath.Join(deployDir, fmt.Sprint(r))); err != nil {
				t.Errorf("kustomization: resource %v: %v", r, err)
			}
		}
	}
}

func checkWorkerJob(t *testing.T, ms []manifest, m manifest, c any, groups map[string]bool) {
	js := jobSpec(m.doc)
	if js["completionMode"] != "Indexed" {
		t.Errorf("completionMode = %v, want Indexed", js["completionMode"])
	}
	n, _ := js["completions"].(int)
	if p, _ := js["parallelism"].(int); n < 1 || p < 1 || p > n {
		t.Errorf("completions %v, parallelism %v", js["completions"], js["parallelism"])
	}
	args := argsOf(c)
	if want := fmt.Sprintf("--shard=$(JOB_COMPLETION_INDEX)/%d", n); !slices.Contains(args, want) {
		t.Errorf("args %q lack %s", args, want)
	}
	if len(args) == 0 || args[0] != "scan" {
		t.Fatalf("args %q do not run scan", args)
	}
	if m.doc["kind"] == "CronJob" && get(m.doc, "spec", "concurrencyPolicy") != "Forbid" {
		t.Error("CronJob: concurrencyPolicy is not Forbid: two sweeps would overlap")
	}
	// The command line is one the scan command accepts.
	dir := t.TempDir()
	targets := filepath.Join(dir, "targets.txt")
	if err := os.WriteFile(targets, []byte(configMapData(t, ms, "mcpwarden-targets", "targets.txt")), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"JOB_COMPLETION_INDEX": fmt.Sprint(n - 1), "MCPWARDEN_DB": "postgres://u@db.test/x",
		"JOB_UID": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"}
	real := expand(args[1:], vars)
	for i, a := range real {
		if strings.HasPrefix(a, "-iL=") {
			real[i] = "-iL=" + targets
		}
		if strings.Contains(a, "$(") {
			t.Errorf("arg %q references a variable the container does not define", a)
		}
	}
	cfg := &scanConfig{}
	pos, err := parseInterspersed(scanFlags(cfg), real)
	if err != nil {
		t.Fatalf("scan %q: %v", real, err)
	}
	cfg.targets = pos
	plan, err := planScan(cfg, &Env{Getenv: func(string) string { return "" }, IsTerminal: func(io.Writer) bool { return false }})
	if err != nil {
		t.Fatalf("scan %q: %v", real, err)
	}
	defer plan.closeInputs()
	if plan.worker == nil || plan.worker.shard.Count != n || plan.worker.shard.Index != n-1 {
		t.Fatalf("worker plan = %+v, want shard %d/%d", plan.worker, n-1, n)
	}
	groups["worker:"+plan.worker.shard.Group] = true
	// Every env var referenced is declared (Kubernetes expands only those).
	declared := map[string]bool{}
	for _, e := range list(get(c, "env")) {
		declared[fmt.Sprint(get(e, "name"))] = true
	}
	for v := range vars {
		if !declared[v] {
			t.Errorf("env %s is not declared", v)
		}
	}
}

func checkWatchDeployment(t *testing.T, ms []manifest, c any, groups map[string]bool) {
	args := argsOf(c)
	if len(args) == 0 || args[0] != "watch" {
		t.Fatalf("args %q do not run watch", args)
	}
	has := func(prefix string) bool {
		return slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, prefix) })
	}
	if !has("--listen=") || !has("--api-keys=") {
		t.Errorf("the dashboard listens without --api-keys: %q", args)
	}
	cf, err := config.Parse(strings.NewReader(configMapData(t, ms, "mcpwarden-watch", "watch.yaml")), "watch.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range cf.Groups {
		if g.Source == config.SourceWorkers {
			groups["watch:"+g.Name] = true
		}
	}
	// The Service reaches the dashboard port.
	found := false
	for _, m := range ms {
		if get(m.doc, "kind") == "Service" {
			for _, p := range list(get(m.doc, "spec", "ports")) {
				if get(p, "targetPort") == "http" {
					found = true
				}
			}
		}
	}
	if !found {
		t.Error("no Service targets the dashboard port")
	}
}
