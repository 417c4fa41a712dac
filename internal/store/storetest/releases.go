package storetest

import (
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/store"
)

// releaseID is a fixed, valid ULID per n.
func releaseID(n int) string { return fmt.Sprintf("01JNR7Q3ZK8M4X2V6T9B5C%04d", n) }

// releaseFiles builds files named names with hashes of their names.
func releaseFiles(names ...string) []*store.ReleaseFile {
	var out []*store.ReleaseFile
	for i, n := range names {
		out = append(out, &store.ReleaseFile{Name: n, SHA256: hashOf(n), Size: int64(100 + i), Mtime: at(-3600),
			Metadata: map[string]string{"tool": "haven-airlock"}})
	}
	return out
}

func (e *env) release(n int, w *store.Workspace, b *store.Backend, when time.Time, names ...string) (*store.Release, []*store.ReleaseFile) {
	e.t.Helper()
	r := &store.Release{ID: releaseID(n), WorkspaceID: w.ID, BackendID: b.ID, CreatedBy: e.user.ID, CreatedAt: when,
		Metadata: map[string]string{"tool": "haven-airlock", "request_id": releaseID(n)}}
	files := releaseFiles(names...)
	created, err := e.s.CreateRelease(e.ctx, r, files)
	if err != nil || !created {
		e.t.Fatalf("CreateRelease(%s) = %v, %v; want created", r.ID, created, err)
	}
	return r, files
}

func fileNames(fs []*store.ReleaseFile) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Name)
	}
	return out
}

func testReleaseULID(t *testing.T, _ *env) {
	seen := map[string]bool{}
	var prev string
	for i := range 200 {
		id := store.NewULID(at(i))
		if !store.ValidULID(id) {
			t.Fatalf("NewULID = %q, not a valid ULID", id)
		}
		if seen[id] {
			t.Fatalf("NewULID returned %q twice", id)
		}
		seen[id] = true
		if id[:10] <= prev {
			t.Errorf("NewULID at a later time %q does not sort after %q", id, prev)
		}
		prev = id[:10]
	}
	// The time prefix of a known instant (ULID spec: 48-bit milliseconds).
	if got := store.NewULID(time.UnixMilli(1469918176385))[:10]; got != "01ARYZ6S41" {
		t.Errorf("NewULID(1469918176385 ms) time prefix = %s, want 01ARYZ6S41", got)
	}
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"01ARZ3NDEKTSV4RRFFQ69G5FAV", true},
		{"7ZZZZZZZZZZZZZZZZZZZZZZZZZ", true},
		{"8ZZZZZZZZZZZZZZZZZZZZZZZZZ", false}, // more than 128 bits
		{"01arz3ndektsv4rrffq69g5fav", false}, // not canonical
		{"01ARZ3NDEKTSV4RRFFQ69G5FA", false},  // 25 characters
		{"01ARZ3NDEKTSV4RRFFQ69G5FAVX", false},
		{"01ARZ3NDEKTSV4RRFFQ69G5FAI", false}, // I is not in the alphabet
		{"../../../../../../etc/pass", false},
		{"", false},
	} {
		if got := store.ValidULID(tc.id); got != tc.ok {
			t.Errorf("ValidULID(%q) = %v, want %v", tc.id, got, tc.ok)
		}
	}
}

func testCreateRelease(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	r, files := e.release(1, e.w1, e.b1, at(10), "output/b.csv", "output/a.png")
	if r.Status != store.ReleaseRequested {
		t.Errorf("created release status = %q, want %q", r.Status, store.ReleaseRequested)
	}
	for _, f := range files {
		if !store.ValidULID(f.ID) || f.ReleaseID != r.ID || f.WorkspaceID != e.w1.ID || f.CreatedBy != e.user.ID {
			t.Errorf("created file %+v: want a ULID id, release %s, workspace %d, created by %d", f, r.ID, e.w1.ID, e.user.ID)
		}
		wantTime(t, "created file CreatedAt", f.CreatedAt, at(10))
	}
	if files[0].ID == files[1].ID {
		t.Errorf("two files got the same id %s", files[0].ID)
	}

	got, err := s.Release(ctx, r.ID)
	if err != nil {
		t.Fatalf("Release: %v", err)
	}
	if got.ID != r.ID || got.WorkspaceID != e.w1.ID || got.BackendID != e.b1.ID || got.Status != store.ReleaseRequested ||
		!slices.Equal(got.RequestedFiles, []string{"output/b.csv", "output/a.png"}) || got.CreatedBy != e.user.ID ||
		got.Metadata["request_id"] != r.ID || got.Review != nil {
		t.Errorf("Release = %+v, want %+v", got, r)
	}
	wantTime(t, "Release.CreatedAt", got.CreatedAt, at(10))

	stored, err := s.ReleaseFiles(ctx, r.ID)
	if err != nil {
		t.Fatalf("ReleaseFiles: %v", err)
	}
	if want := []string{"output/a.png", "output/b.csv"}; !slices.Equal(fileNames(stored), want) {
		t.Fatalf("ReleaseFiles names = %v, want %v (by name)", fileNames(stored), want)
	}
	for _, f := range stored {
		want := files[0]
		if f.Name == files[1].Name {
			want = files[1]
		}
		if f.ID != want.ID || f.SHA256 != want.SHA256 || f.Size != want.Size || f.Path != "" || f.Uploaded() || f.Redacted() ||
			f.Metadata["tool"] != "haven-airlock" || f.DeletedBy != 0 {
			t.Errorf("stored file %+v, want %+v, not uploaded, not redacted", f, want)
		}
		wantTime(t, "ReleaseFile.Mtime", f.Mtime, at(-3600))
		wantTime(t, "ReleaseFile.UploadedAt", f.UploadedAt, zero)
	}
	f, err := s.ReleaseFile(ctx, r.ID, "output/b.csv")
	if err != nil || f.ID != files[0].ID {
		t.Errorf("ReleaseFile(output/b.csv) = %+v, %v; want file %s", f, err, files[0].ID)
	}
	_, err = s.ReleaseFile(ctx, r.ID, "output/c.csv")
	wantCode(t, "ReleaseFile(missing name)", err, haven.ENOTFOUND)
	_, err = s.ReleaseFile(ctx, releaseID(99), "output/b.csv")
	wantCode(t, "ReleaseFile(missing release)", err, haven.ENOTFOUND)
	_, err = s.Release(ctx, releaseID(99))
	wantCode(t, "Release(missing)", err, haven.ENOTFOUND)
	if fs, err := s.ReleaseFiles(ctx, releaseID(99)); err != nil || len(fs) != 0 {
		t.Errorf("ReleaseFiles(missing) = %v, %v; want none", fs, err)
	}

	e.release(2, e.w1, e.b1, at(20), "output/c.csv")
	e.release(3, e.w2, e.b1, at(30), "output/d.csv")
	rs, err := s.WorkspaceReleases(ctx, e.w1.ID)
	if err != nil {
		t.Fatalf("WorkspaceReleases: %v", err)
	}
	var rids []string
	for _, r := range rs {
		rids = append(rids, r.ID)
	}
	if want := []string{releaseID(2), releaseID(1)}; !slices.Equal(rids, want) {
		t.Errorf("WorkspaceReleases(w1) = %v, want %v (newest first)", rids, want)
	}
}

func testCreateReleaseIdempotent(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	r, files := e.release(1, e.w1, e.b1, at(0), "output/a.csv", "output/b.csv")

	// The same release again, files in another order: nothing changes.
	again := &store.Release{ID: r.ID, WorkspaceID: e.w1.ID, BackendID: e.b1.ID, CreatedBy: e.user.ID, CreatedAt: at(60)}
	againFiles := releaseFiles("output/a.csv", "output/b.csv")
	againFiles[0], againFiles[1] = againFiles[1], againFiles[0]
	againFiles[0].Size, againFiles[1].Size = files[1].Size, files[0].Size
	created, err := s.CreateRelease(ctx, again, againFiles)
	if err != nil || created {
		t.Fatalf("CreateRelease(same files) = %v, %v; want false, nil", created, err)
	}
	if againFiles[0].ID != "" {
		t.Errorf("CreateRelease(same files) set a file id %s; the stored files keep theirs", againFiles[0].ID)
	}
	stored, err := s.ReleaseFiles(ctx, r.ID)
	if err != nil || len(stored) != 2 || stored[0].ID != files[0].ID {
		t.Errorf("ReleaseFiles after a repeat = %v, %v; want the original two files", stored, err)
	}
	got, _ := s.Release(ctx, r.ID)
	wantTime(t, "Release.CreatedAt after a repeat", got.CreatedAt, at(0))

	for _, tc := range []struct {
		name  string
		w     *store.Workspace
		b     *store.Backend
		files []*store.ReleaseFile
	}{
		{"another hash", e.w1, e.b1, func() []*store.ReleaseFile {
			fs := releaseFiles("output/a.csv", "output/b.csv")
			fs[1].SHA256 = hashOf("changed")
			return fs
		}()},
		{"another size", e.w1, e.b1, func() []*store.ReleaseFile {
			fs := releaseFiles("output/a.csv", "output/b.csv")
			fs[1].Size++
			return fs
		}()},
		{"a file fewer", e.w1, e.b1, releaseFiles("output/a.csv")},
		{"a file more", e.w1, e.b1, releaseFiles("output/a.csv", "output/b.csv", "output/c.csv")},
		{"another name", e.w1, e.b1, releaseFiles("output/a.csv", "output/x.csv")},
		{"another workspace", e.w2, e.b1, releaseFiles("output/a.csv", "output/b.csv")},
		{"another backend", e.w1, e.b2, releaseFiles("output/a.csv", "output/b.csv")},
	} {
		r2 := &store.Release{ID: r.ID, WorkspaceID: tc.w.ID, BackendID: tc.b.ID, CreatedBy: e.user.ID, CreatedAt: at(60)}
		created, err := s.CreateRelease(ctx, r2, tc.files)
		if created {
			t.Errorf("CreateRelease(%s) created a release", tc.name)
		}
		wantCode(t, "CreateRelease("+tc.name+")", err, haven.ECONFLICT)
	}
	stored, _ = s.ReleaseFiles(ctx, r.ID)
	if len(stored) != 2 || stored[1].SHA256 != hashOf("output/b.csv") {
		t.Errorf("a refused repeat changed the stored files: %+v", stored)
	}
}

func testCreateReleaseConcurrent(t *testing.T, e *env) {
	const n = 8
	var wg sync.WaitGroup
	results := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			r := &store.Release{ID: releaseID(7), WorkspaceID: e.w1.ID, BackendID: e.b1.ID, CreatedBy: e.user.ID, CreatedAt: at(i)}
			results[i], errs[i] = e.s.CreateRelease(e.ctx, r, releaseFiles("output/a.csv", "output/b.csv"))
		})
	}
	wg.Wait()
	made := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("concurrent CreateRelease %d: %v; want success (the same release)", i, errs[i])
		}
		if results[i] {
			made++
		}
	}
	if made != 1 {
		t.Errorf("%d of %d identical concurrent CreateRelease calls created the release, want exactly 1", made, n)
	}
	if fs, err := e.s.ReleaseFiles(e.ctx, releaseID(7)); err != nil || len(fs) != 2 {
		t.Errorf("ReleaseFiles = %d files, %v; want 2", len(fs), err)
	}
}

func testCreateReleaseInvalid(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	base := func() *store.Release {
		return &store.Release{ID: releaseID(1), WorkspaceID: e.w1.ID, BackendID: e.b1.ID, CreatedBy: e.user.ID, CreatedAt: at(0)}
	}
	for _, tc := range []struct {
		name  string
		edit  func(r *store.Release, fs []*store.ReleaseFile) []*store.ReleaseFile
		code  string
		files []string
	}{
		{"id not a ULID", func(r *store.Release, fs []*store.ReleaseFile) []*store.ReleaseFile { r.ID = "../x"; return fs }, haven.EINVALID, nil},
		{"lower-case id", func(r *store.Release, fs []*store.ReleaseFile) []*store.ReleaseFile {
			r.ID = "01arz3ndektsv4rrffq69g5fav"
			return fs
		}, haven.EINVALID, nil},
		{"unknown status", func(r *store.Release, fs []*store.ReleaseFile) []*store.ReleaseFile { r.Status = "RELEASED"; return fs }, haven.EINVALID, nil},
		{"empty name", func(r *store.Release, fs []*store.ReleaseFile) []*store.ReleaseFile { fs[0].Name = ""; return fs }, haven.EINVALID, nil},
		{"name twice", func(r *store.Release, fs []*store.ReleaseFile) []*store.ReleaseFile {
			return append(fs, releaseFiles("output/a.csv")...)
		}, haven.EINVALID, nil},
		{"upper-case hash", func(r *store.Release, fs []*store.ReleaseFile) []*store.ReleaseFile {
			fs[0].SHA256 = "AB" + fs[0].SHA256[2:]
			return fs
		}, haven.EINVALID, nil},
		{"short hash", func(r *store.Release, fs []*store.ReleaseFile) []*store.ReleaseFile { fs[0].SHA256 = "abc"; return fs }, haven.EINVALID, nil},
		{"negative size", func(r *store.Release, fs []*store.ReleaseFile) []*store.ReleaseFile { fs[0].Size = -1; return fs }, haven.EINVALID, nil},
		{"missing workspace", func(r *store.Release, fs []*store.ReleaseFile) []*store.ReleaseFile { r.WorkspaceID = 9999; return fs }, haven.ENOTFOUND, nil},
		{"missing backend", func(r *store.Release, fs []*store.ReleaseFile) []*store.ReleaseFile { r.BackendID = 9999; return fs }, haven.ENOTFOUND, nil},
		{"missing user", func(r *store.Release, fs []*store.ReleaseFile) []*store.ReleaseFile { r.CreatedBy = 9999; return fs }, haven.ENOTFOUND, nil},
	} {
		r := base()
		fs := tc.edit(r, releaseFiles("output/a.csv"))
		created, err := s.CreateRelease(ctx, r, fs)
		if created {
			t.Errorf("CreateRelease(%s) created a release", tc.name)
		}
		wantCode(t, "CreateRelease("+tc.name+")", err, tc.code)
	}
	if _, err := s.Release(ctx, releaseID(1)); haven.ErrorCode(err) != haven.ENOTFOUND {
		t.Errorf("after refused creates, Release = %v; want ENOTFOUND (nothing stored)", err)
	}
}

func testMarkUploaded(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	r, files := e.release(1, e.w1, e.b1, at(0), "output/a.csv", "output/b.csv")
	path := "ws-one/releases/" + r.ID + "/output/a.csv"
	if err := s.MarkUploaded(ctx, files[0].ID, path, at(30)); err != nil {
		t.Fatalf("MarkUploaded: %v", err)
	}
	f, err := s.ReleaseFile(ctx, r.ID, "output/a.csv")
	if err != nil {
		t.Fatalf("ReleaseFile: %v", err)
	}
	if f.Path != path || !f.Uploaded() {
		t.Errorf("after MarkUploaded, file = %+v; want path %s, uploaded", f, path)
	}
	wantTime(t, "UploadedAt", f.UploadedAt, at(30))

	err = s.MarkUploaded(ctx, files[0].ID, "elsewhere", at(40))
	wantCode(t, "MarkUploaded(again)", err, haven.ECONFLICT)
	f, _ = s.ReleaseFile(ctx, r.ID, "output/a.csv")
	if f.Path != path {
		t.Errorf("a second MarkUploaded changed the path to %s", f.Path)
	}
	wantTime(t, "UploadedAt after a second MarkUploaded", f.UploadedAt, at(30))

	wantCode(t, "MarkUploaded(missing file)", s.MarkUploaded(ctx, store.NewULID(at(0)), path, at(40)), haven.ENOTFOUND)
	wantCode(t, "MarkUploaded(empty path)", s.MarkUploaded(ctx, files[1].ID, "", at(40)), haven.EINVALID)

	// Concurrent uploads of one file: exactly one wins.
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = s.MarkUploaded(ctx, files[1].ID, fmt.Sprintf("p%d", i), at(50+i)) })
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch haven.ErrorCode(err) {
		case "":
			wins++
		case haven.ECONFLICT:
		default:
			t.Errorf("concurrent MarkUploaded: %v", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d concurrent MarkUploaded calls succeeded, want 1", wins)
	}
}

func testWorkspaceReleasedFiles(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	_, f1 := e.release(1, e.w1, e.b1, at(0), "output/b.csv", "output/a.csv", "output/pending.csv")
	_, f2 := e.release(2, e.w1, e.b2, at(10), "output/a.csv")
	_, f3 := e.release(3, e.w2, e.b1, at(20), "output/other.csv")
	for i, f := range []*store.ReleaseFile{f1[0], f1[1], f2[0], f3[0]} {
		if err := s.MarkUploaded(ctx, f.ID, "p/"+f.ID, at(100+i)); err != nil {
			t.Fatalf("MarkUploaded(%s): %v", f.Name, err)
		}
	}
	got, err := s.WorkspaceReleasedFiles(ctx, e.w1.ID)
	if err != nil {
		t.Fatalf("WorkspaceReleasedFiles: %v", err)
	}
	var desc []string
	for _, f := range got {
		desc = append(desc, f.Name+"@"+f.ReleaseID)
		if !f.Uploaded() {
			t.Errorf("WorkspaceReleasedFiles listed %s, which is not uploaded", f.Name)
		}
	}
	want := []string{"output/a.csv@" + releaseID(1), "output/a.csv@" + releaseID(2), "output/b.csv@" + releaseID(1)}
	if !slices.Equal(desc, want) {
		t.Errorf("WorkspaceReleasedFiles(w1) = %v, want %v", desc, want)
	}
	if !sort.SliceIsSorted(got, func(i, j int) bool { return got[i].Name < got[j].Name }) {
		t.Errorf("WorkspaceReleasedFiles not sorted by name")
	}
	none, err := s.WorkspaceReleasedFiles(ctx, 9999)
	if err != nil || len(none) != 0 {
		t.Errorf("WorkspaceReleasedFiles(missing workspace) = %v, %v; want none", none, err)
	}
}
