package peers

import (
	"encoding/json"
	"fmt"
	"os"
)

// BaselineName is the file, in the command's folder, of the results that
// the page compares the run with: an earlier run saved with -save on the
// build before a change.
const BaselineName = "baseline.json"

// SaveResults writes res as JSON to path, so that the page can be rendered
// again (after a change to its wording) without measuring again.
func SaveResults(path string, res *Results) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	return writeFile(path, b)
}

// LoadResults reads results that SaveResults wrote. The engines and the
// settings' functions are those of this build.
func LoadResults(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var res Results
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("decode results %s: %w", path, err)
	}
	def := DefaultSettings("")
	if res.Settings.Quick {
		def = QuickSettings("")
	}
	res.Settings.DurableCookies, res.Settings.WarmCookies = def.DurableCookies, def.WarmCookies
	byName := map[string]Engine{}
	for _, e := range Engines() {
		byName[e.Name] = e
	}
	for i, e := range res.Engines {
		if cur, ok := byName[e.Name]; ok {
			res.Engines[i] = cur
		}
	}
	return &res, nil
}
