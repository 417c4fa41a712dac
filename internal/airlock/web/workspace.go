package web

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/airlock"
	"github.com/haven-tre/haven/internal/airlock/render"
	"github.com/haven-tre/haven/internal/airlock/review"
	"github.com/haven-tre/haven/internal/airlock/workspace"
	"github.com/haven-tre/haven/internal/webkit"
)

// pathSegment escapes one path segment of a URL.
func pathSegment(s string) string { return url.PathEscape(s) }

// treeNode is one folder or file of the workspace tree as the page shows it.
type treeNode struct {
	Name, Path, URL string
	Dir             bool
	Open            bool // a folder on the way to the current path
	Current         bool
	Kind            string
	Status          string // the file status code, for its badge's class
	StatusLabel     string
	OutOfDate       bool
	Children        []*treeNode
}

// workspaceData is the workspace page's view model; File is set on a
// file's page.
type workspaceData struct {
	Name, URL     string
	Project       string
	Tree          []*treeNode
	ShowOutOfDate bool
	ToggleURL     string
	Current       string // the current folder or file, "" for the root
	MyActive      *requestRow
	Active        []requestRow
	File          *workspaceFile
	// AddMany is the multi-select add form of a folder's page (nil when
	// the viewer cannot add files or the folder has no outputs).
	AddMany *addManyData
}

// addManyData is the form that adds several outputs of a folder at once.
type addManyData struct {
	Folder   string
	Files    []addManyFile
	Editable []requestRow
	Groups   []string
}

// addManyFile is one output of the folder in the form.
type addManyFile struct {
	Path, StatusLabel string
	Addable           bool
}

// workspaceFile is the file part of the workspace page.
type workspaceFile struct {
	Path, Name      string
	Kind            string
	Size            int64
	ModTime         string
	Status          string
	StatusLabel     string
	Action, JobID   string
	Level, Message  string
	ContentHash     string
	OutOfDate       bool
	ContentURL      string
	FrameURL        string // the content URL the frame shows (plain or not)
	Plain           bool
	ToggleURL       string // the page in the other view
	Sandbox         string
	CanAdd          bool
	DefaultType     string
	Editable        []requestRow
	Groups          []string // group names on the editable requests
	UpdateRequest   string   // the request to update the file on (UPDATED)
	CannotAuthorWhy string
}

// workspacePage shows a workspace's file tree, a folder of it, or one
// file with its details and the add-to-request forms.
func (h *Handler) workspacePage(w http.ResponseWriter, r *http.Request, u *airlock.User) {
	ctx := r.Context()
	ws := r.PathValue("ws")
	p := strings.TrimSuffix(r.PathValue("path"), "/")
	if p != "" {
		if err := workspace.CheckPath(p); err != nil {
			h.renderError(w, r, err)
			return
		}
	}
	q := r.URL.Query()
	showOOD := q.Get("show_out_of_date") == "1"
	view, err := h.svc.Workspace(ctx, u, ws, showOOD)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	name := view.Workspace.Name
	d := workspaceData{Name: name, URL: workspaceURL(name), ShowOutOfDate: showOOD, Current: p}
	if a, ok := u.Workspaces[name]; ok {
		d.Project = a.Project.Name
	} else if a, ok := u.Copiloted[name]; ok {
		d.Project = a.Project.Name
	}
	suffix := ""
	if showOOD {
		suffix = "?show_out_of_date=1"
		d.ToggleURL = r.URL.Path
	} else {
		d.ToggleURL = r.URL.Path + "?show_out_of_date=1"
	}
	for _, rec := range view.Active {
		row := newRequestRow(rec)
		d.Active = append(d.Active, row)
		if rec.Request.Author == u.Username && d.MyActive == nil {
			d.MyActive = &row
		}
	}
	node := findNode(view.Tree, p)
	d.Tree = h.treeNodes(view, view.Tree.Children, name, p, suffix)
	if node != nil && node.Dir {
		if view.CanAuthor == nil {
			d.AddMany = addMany(view, node)
		}
		h.render(w, r, http.StatusOK, "workspace", name, d)
		return
	}
	var e *workspace.Entry
	if node != nil {
		e = node.Entry
	} else if e, err = h.svc.WorkspaceEntry(u, name, p); err != nil {
		h.renderError(w, r, err)
		return
	}
	st, ok := view.Statuses[e.Path]
	if !ok && e.Kind == workspace.KindOutput {
		if st, err = h.svc.FileStatus(ctx, u, name, e); err != nil {
			h.renderError(w, r, err)
			return
		}
	}
	plain := q.Get("plain") == "1"
	f := &workspaceFile{
		Path: e.Path, Name: baseName(e.Path), Kind: string(e.Kind), Size: e.Size, ModTime: showTime(e.ModTime),
		Status: string(st), Action: e.Action, JobID: e.JobID, Level: e.Level, Message: e.Message,
		ContentHash: e.ContentHash, OutOfDate: e.OutOfDate,
		ContentURL:  pathURL("/workspaces/"+pathSegment(name)+"/content/", e.Path),
		Plain:       plain,
		Sandbox:     render.FrameSandbox(e.Path, plain),
		DefaultType: string(review.Output),
	}
	if st != "" {
		f.StatusLabel = st.Label()
	}
	pageURL := pathURL("/workspaces/"+pathSegment(name)+"/tree/", e.Path)
	f.FrameURL = f.ContentURL
	if plain {
		f.FrameURL += "?plain=1"
		f.ToggleURL = pageURL
	} else {
		f.ToggleURL = pageURL + "?plain=1"
	}
	if e.Kind == workspace.KindOutput {
		if view.CanAuthor != nil {
			f.CannotAuthorWhy = userMessage(view.CanAuthor)
		} else {
			switch st {
			case airlock.Unreleased, airlock.Released, airlock.Withdrawn:
				f.CanAdd = true
				if st == airlock.Released {
					f.DefaultType = string(review.Supporting)
				}
			case airlock.Updated:
				for _, rec := range view.Active {
					if fl, _ := rec.Request.File(e.Path); fl != nil {
						f.UpdateRequest = rec.Request.ID
						break
					}
				}
			}
		}
		if f.CanAdd {
			f.Editable = requestRows(view.Editable)
			for _, rec := range view.Editable {
				for _, g := range rec.Request.Groups {
					if !slices.Contains(f.Groups, g.Name) {
						f.Groups = append(f.Groups, g.Name)
					}
				}
			}
		}
	}
	d.File = f
	h.render(w, r, http.StatusOK, "workspace", e.Path+" in "+name, d)
}

// addMany lists the outputs under a folder for the multi-select add
// form; nil when there are none.
func addMany(view *airlock.WorkspaceView, folder *workspace.Node) *addManyData {
	d := &addManyData{Folder: folder.Path, Editable: requestRows(view.Editable)}
	var walk func(n *workspace.Node)
	walk = func(n *workspace.Node) {
		if n.Entry != nil && n.Entry.Kind == workspace.KindOutput {
			st := view.Statuses[n.Path]
			d.Files = append(d.Files, addManyFile{
				Path: n.Path, StatusLabel: st.Label(),
				Addable: st == airlock.Unreleased || st == airlock.Withdrawn,
			})
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(folder)
	if len(d.Files) == 0 {
		return nil
	}
	for _, rec := range view.Editable {
		for _, g := range rec.Request.Groups {
			if !slices.Contains(d.Groups, g.Name) {
				d.Groups = append(d.Groups, g.Name)
			}
		}
	}
	return d
}

// addFiles adds the outputs ticked on a folder's page.
func (h *Handler) addFiles(w http.ResponseWriter, r *http.Request, u *airlock.User) {
	ws := r.PathValue("ws")
	back := workspaceURL(ws)
	paths := r.PostForm["path"]
	for _, p := range paths {
		if err := workspace.CheckPath(p); err != nil {
			h.renderErrorBack(w, r, err, back)
			return
		}
	}
	typ := review.FileType(r.PostForm.Get("type"))
	if typ != "" && typ != review.Output && typ != review.Supporting {
		h.renderErrorBack(w, r, haven.Errorf(haven.EINVALID, "files are added as OUTPUT or SUPPORTING, not %q: choose one of the two", typ), back)
		return
	}
	in := airlock.AddFileInput{
		Workspace: ws, Group: r.PostForm.Get("group"), Type: typ,
		RequestID: strings.TrimSpace(r.PostForm.Get("request")),
	}
	rec, err := h.svc.AddFiles(r.Context(), u, in, paths)
	if err != nil {
		if rec != nil {
			back = requestURL(rec.Request.ID)
		}
		h.renderErrorBack(w, r, err, back)
		return
	}
	h.cookies.SetFlash(w, webkit.FlashSuccess, "Added "+strings.Join(paths, ", ")+" to release request "+rec.Request.ID+".")
	http.Redirect(w, r, requestURL(rec.Request.ID), http.StatusSeeOther)
}

// findNode returns the node at path p ("" for the root), or nil.
func findNode(root *workspace.Node, p string) *workspace.Node {
	if p == "" {
		return root
	}
	n := root
	for _, part := range strings.Split(p, "/") {
		var next *workspace.Node
		for _, c := range n.Children {
			if c.Name == part {
				next = c
				break
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

// treeNodes converts a workspace tree for the page; folders on the way
// to current are open.
func (h *Handler) treeNodes(view *airlock.WorkspaceView, nodes []*workspace.Node, ws, current, suffix string) []*treeNode {
	out := make([]*treeNode, 0, len(nodes))
	for _, n := range nodes {
		t := &treeNode{Name: n.Name, Path: n.Path, Dir: n.Dir}
		prefix := "/workspaces/" + pathSegment(ws) + "/tree/"
		if n.Dir {
			t.URL = pathURL(prefix, n.Path) + "/" + suffix
			t.Open = current == n.Path || strings.HasPrefix(current, n.Path+"/")
			t.Children = h.treeNodes(view, n.Children, ws, current, suffix)
		} else {
			t.URL = pathURL(prefix, n.Path) + suffix
			if n.Entry != nil {
				t.Kind = string(n.Entry.Kind)
				t.OutOfDate = n.Entry.OutOfDate
			}
			if st, ok := view.Statuses[n.Path]; ok {
				t.Status, t.StatusLabel = string(st), st.Label()
			}
		}
		t.Current = current == n.Path
		out = append(out, t)
	}
	return out
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// workspaceContent serves a workspace file's content for the frame
// (never as a download, never cached long: it may change).
func (h *Handler) workspaceContent(w http.ResponseWriter, r *http.Request, u *airlock.User) {
	p := r.PathValue("path")
	if err := workspace.CheckPath(p); err != nil {
		h.renderError(w, r, err)
		return
	}
	data, e, err := h.svc.WorkspaceFile(r.Context(), u, r.PathValue("ws"), p)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	render.Serve(w, r, render.Content{Name: e.Path, Data: data, Plain: r.URL.Query().Get("plain") == "1"})
}

// addFile adds a workspace output to the user's release request,
// creating the request when they have none.
func (h *Handler) addFile(w http.ResponseWriter, r *http.Request, u *airlock.User) {
	ws := r.PathValue("ws")
	p := strings.TrimSpace(r.PostForm.Get("path"))
	back := workspaceURL(ws)
	if err := workspace.CheckPath(p); err != nil {
		h.renderErrorBack(w, r, err, back)
		return
	}
	back = pathURL("/workspaces/"+pathSegment(ws)+"/tree/", p)
	typ := review.FileType(r.PostForm.Get("type"))
	if typ != "" && typ != review.Output && typ != review.Supporting {
		h.renderErrorBack(w, r, haven.Errorf(haven.EINVALID, "a file is added as OUTPUT or SUPPORTING, not %q: choose one of the two", typ), back)
		return
	}
	in := airlock.AddFileInput{
		Workspace: ws, Path: p, Group: r.PostForm.Get("group"), Type: typ,
		RequestID: strings.TrimSpace(r.PostForm.Get("request")),
	}
	rec, err := h.svc.AddFile(r.Context(), u, in)
	if err != nil {
		h.renderErrorBack(w, r, err, back)
		return
	}
	f, g := rec.Request.File(p)
	msg := "Added " + p + " to release request " + rec.Request.ID
	if f != nil && g != nil {
		msg += " as " + string(f.Type) + " in file group " + g.Name
	}
	h.cookies.SetFlash(w, webkit.FlashSuccess, msg+".")
	http.Redirect(w, r, requestURL(rec.Request.ID), http.StatusSeeOther)
}
