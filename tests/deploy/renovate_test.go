package deploy

import (
	"encoding/json"
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDependencyUpdatesFindEveryPin: the Renovate configuration's custom
// managers (what its built-in Go, Dockerfile, compose and Actions managers
// do not see) each match the pins they are there for, so a reworded pin is
// not silently left behind: the Dockerfile's Go version, the collector image
// of the stack and the versions the scripts pin.
func TestDependencyUpdatesFindEveryPin(t *testing.T) {
	t.Parallel()
	var cfg struct {
		Extends        []string `json:"extends"`
		CustomManagers []struct {
			Description         string   `json:"description"`
			ManagerFilePatterns []string `json:"managerFilePatterns"`
			MatchStrings        []string `json:"matchStrings"`
		} `json:"customManagers"`
	}
	if err := json.Unmarshal(readFile(t, filepath.Join(root(t), ".github", "renovate.json")), &cfg); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(cfg.Extends, " "), "docker:pinDigests") {
		t.Error("images are not pinned by digest (docker:pinDigests)")
	}
	var files []string
	_ = filepath.WalkDir(root(t), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && (d.Name() == ".git" || d.Name() == ".cache" || d.Name() == ".venv" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root(t), p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	matched := map[string]int{}
	for _, m := range cfg.CustomManagers {
		for _, pat := range m.ManagerFilePatterns {
			fileRe := regexp.MustCompile(strings.Trim(pat, "/"))
			for _, f := range files {
				if !fileRe.MatchString(f) {
					continue
				}
				content := string(readFile(t, filepath.Join(root(t), f)))
				for _, ms := range m.MatchStrings {
					matched[m.Description] += len(regexp.MustCompile(ms).FindAllString(content, -1))
				}
			}
		}
		if matched[m.Description] == 0 {
			t.Errorf("custom manager %q matches nothing", m.Description)
		}
	}
	// Every "# renovate:" annotation is seen by a manager.
	annotated := 0
	for _, f := range files {
		if strings.HasPrefix(f, "tools/scripts/") && strings.HasSuffix(f, ".sh") {
			annotated += strings.Count(string(readFile(t, filepath.Join(root(t), f))), "# renovate: ")
		}
	}
	for desc, n := range matched {
		if strings.HasPrefix(desc, "Versions scripts pin") && n != annotated {
			t.Errorf("%d '# renovate:' annotations in tools/scripts, %d matched", annotated, n)
		}
	}
}
