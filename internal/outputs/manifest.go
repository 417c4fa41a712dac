package outputs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
)

// ManifestFile is the medium-privacy workspace's record of every output,
// relative to the workspace.
const ManifestFile = metadataDir + "/manifest.json"

// maxManifestSize bounds how much of a manifest is read.
const maxManifestSize = 1 << 30

// ManifestEntry is one output in the manifest (spec §22.7).
type ManifestEntry struct {
	Level       string  `json:"level"`
	JobID       string  `json:"job_id"`
	JobRequest  string  `json:"job_request"`
	Action      string  `json:"action"`
	User        string  `json:"user"`
	Repo        *string `json:"repo"`   // null for a local working tree
	Commit      *string `json:"commit"` // null for a local working tree
	Size        int64   `json:"size"`
	Timestamp   float64 `json:"timestamp"` // mtime, seconds since the epoch
	ContentHash string  `json:"content_hash"`
	Excluded    bool    `json:"excluded"`
	Message     *string `json:"message"`
	RowCount    *int    `json:"row_count"`
	ColCount    *int    `json:"col_count"`
	// OutOfDateOutput is set on earlier outputs of the action that its
	// latest run did not produce (and that were not removed).
	OutOfDateOutput bool `json:"out_of_date_output"`
}

// manifest is manifest.json kept as raw JSON wherever this job does not
// change it, so entries and keys written by others survive untouched.
type manifest struct {
	top     map[string]json.RawMessage
	outputs map[string]json.RawMessage
}

// readManifest reads the manifest of a medium-privacy workspace, or starts
// a new one for the workspace.
func readManifest(t *tree, workspace string) (*manifest, error) {
	m := &manifest{top: map[string]json.RawMessage{}, outputs: map[string]json.RawMessage{}}
	data, err := t.readFile(ManifestFile, maxManifestSize)
	if errors.Is(err, fs.ErrNotExist) {
		ws, _ := json.Marshal(workspace)
		m.top["workspace"] = ws
		m.top["repo"] = json.RawMessage("null")
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	if err := json.Unmarshal(data, &m.top); err != nil {
		return nil, fmt.Errorf("read manifest %s: it is not a JSON object (%v); restore it from a backup or remove it so Haven starts a new one", t.name(ManifestFile), err)
	}
	if raw, ok := m.top["outputs"]; ok && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		if err := json.Unmarshal(raw, &m.outputs); err != nil {
			return nil, fmt.Errorf("read manifest %s: its outputs are not a JSON object (%v); restore it from a backup or remove it so Haven starts a new one", t.name(ManifestFile), err)
		}
	}
	return m, nil
}

// set records an entry for an output.
func (m *manifest) set(name string, e ManifestEntry) error {
	raw, err := marshalJSON(e)
	if err != nil {
		return fmt.Errorf("manifest entry %s: %w", name, err)
	}
	m.outputs[name] = raw
	return nil
}

// action is the action that produced an entry, "" if unknown.
func (m *manifest) action(name string) string {
	var e struct {
		Action string `json:"action"`
	}
	if json.Unmarshal(m.outputs[name], &e) != nil {
		return ""
	}
	return e.Action
}

// markOutOfDate sets out_of_date_output on an entry, keeping its other
// keys as they are.
func (m *manifest) markOutOfDate(name string) error {
	var e map[string]json.RawMessage
	if err := json.Unmarshal(m.outputs[name], &e); err != nil {
		return fmt.Errorf("manifest entry %s: %w", name, err)
	}
	e["out_of_date_output"] = json.RawMessage("true")
	raw, err := marshalJSON(e)
	if err != nil {
		return fmt.Errorf("manifest entry %s: %w", name, err)
	}
	m.outputs[name] = raw
	return nil
}

// encode is the manifest as written: indented by two spaces, the keys
// workspace, repo and outputs first as upstream writes them, any others
// after them sorted, and the outputs sorted by path.
func (m *manifest) encode() ([]byte, error) {
	outputs, err := marshalJSON(m.outputs)
	if err != nil {
		return nil, err
	}
	m.top["outputs"] = outputs
	keys := []string{"workspace", "repo", "outputs"}
	var rest []string
	for k := range m.top {
		if k != "workspace" && k != "repo" && k != "outputs" {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	var obj bytes.Buffer
	obj.WriteByte('{')
	for i, k := range append(keys, rest...) {
		v, ok := m.top[k]
		if !ok {
			v = json.RawMessage("null")
		}
		if i > 0 {
			obj.WriteByte(',')
		}
		name, _ := marshalJSON(k)
		obj.Write(name)
		obj.WriteByte(':')
		obj.Write(v)
	}
	obj.WriteByte('}')
	var out bytes.Buffer
	if err := json.Indent(&out, obj.Bytes(), "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// lockManifest takes an exclusive lock on the manifest of a
// medium-privacy workspace, so that finalizes running at the same time (in
// this process or another) do not lose each other's entries. The lock is
// an flock on metadata/manifest.json.lock, released by unlock.
func lockManifest(t *tree) (unlock func(), err error) {
	name := ManifestFile + ".lock"
	if err := t.mkdirs(metadataDir); err != nil {
		return nil, fmt.Errorf("lock manifest: %w", err)
	}
	if fi, err := t.root.Lstat(filepath.FromSlash(name)); err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("lock manifest: %w", &notRegularError{t.name(name), fileKind(fi.Mode())})
	}
	f, err := t.root.OpenFile(filepath.FromSlash(name), os.O_RDWR|os.O_CREATE|syscall.O_NONBLOCK, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock manifest: %w", err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("lock manifest: %s is not a regular file", t.name(name))
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock manifest %s: %w", t.name(name), err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// marshalJSON is json.Marshal without HTML escaping.
func marshalJSON(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
