package airlock

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/airlock/astore"
	"github.com/haven-tre/haven/internal/airlock/review"
	"github.com/haven-tre/haven/internal/airlock/workspace"
	"github.com/haven-tre/haven/internal/policy"
	"github.com/haven-tre/haven/internal/releaseapi"
)

// Release releases a REVIEWED request whose every output is approved
// (spec §11.1, phase 1): it re-reads each output's frozen copy (checking
// its hash, type and size again), creates the release on the job server
// with each file's expected sha256, and only then moves the request to
// APPROVED. The uploader sends the bytes afterwards.
func (s *Service) Release(ctx context.Context, u *User, id string) (*astore.Record, error) {
	rec, err := s.record(ctx, u, id)
	if err != nil {
		return nil, err
	}
	r := rec.Request
	if err := review.Check(r, u.Username, u.OutputChecker, review.Release, review.Params{At: s.now()}); err != nil {
		return nil, err
	}
	if s.Server == nil {
		return nil, haven.Errorf(haven.EINTERNAL, "this Airlock has no job server to release files to")
	}
	req := releaseapi.CreateRequest{
		ID: r.ID, Workspace: r.Workspace,
		Metadata: map[string]string{"tool": "haven-airlock", "request_id": r.ID, "author": r.Author},
		Review:   map[string]string{"released_by": u.Username, "review_turn": strconv.Itoa(r.ReviewTurn)},
	}
	for _, name := range r.OutputFiles() {
		m := rec.Files[name]
		if m == nil {
			return nil, haven.Errorf(haven.EINTERNAL, "request %s has no record of %s's frozen copy", id, name)
		}
		if !policy.AllowedType(name) {
			return nil, haven.Errorf(haven.EINVALID, "%s is not a file type that can be released; withdraw it or return the request", name)
		}
		data, err := workspace.ReadFrozen(s.requestDir(r.Workspace), m.SHA256)
		if err != nil {
			return nil, err
		}
		if int64(len(data)) > policy.MaxFileSize {
			return nil, haven.Errorf(haven.EINVALID, "%s is %d bytes, over the 16 MiB limit for a released file", name, len(data))
		}
		req.Files = append(req.Files, releaseapi.FileSpec{
			Name: name, Size: int64(len(data)), SHA256: m.SHA256, Mtime: m.ModTime,
			Metadata: map[string]string{"tool": "haven-airlock", "request_id": r.ID},
		})
	}
	if _, err := s.Server.CreateRelease(ctx, u.Username, req); err != nil {
		return nil, haven.Errorf(haven.ECONFLICT, "the job server did not accept the release, so nothing was released: %v", err)
	}
	var out *astore.Record
	var change statusChange
	err = s.Store.Tx(ctx, func(tx *astore.Tx) error {
		rec, err := tx.Request(id)
		if err != nil {
			return err
		}
		now := s.now()
		nr, events, err := review.Apply(rec.Request, u.Username, u.OutputChecker, review.Release, review.Params{At: now})
		if err != nil {
			return err
		}
		for _, name := range nr.OutputFiles() {
			if m := rec.Files[name]; m != nil {
				at := now
				m.ReleasedAt, m.ReleasedBy = &at, u.Username
			}
		}
		out = rec
		change, err = commit(tx, rec, nr, u.Username, events)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.notify(change)
	s.Kick()
	return out, nil
}

// Kick wakes the uploader.
func (s *Service) Kick() {
	if s.init() != nil {
		return
	}
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// RunUploader sends the files of APPROVED requests to the job server until
// ctx ends (spec §11.1, phase 2). It runs a round at once, after every
// Kick, and every RetryEvery; a failed upload is tried again at the next
// round, forever.
func (s *Service) RunUploader(ctx context.Context) {
	if s.init() != nil {
		return
	}
	for {
		if err := s.UploadPending(ctx); err != nil && ctx.Err() == nil {
			s.Logger.Warn("release uploads will be retried", "retry_in", s.RetryEvery.String(), "err", err)
		}
		t := time.NewTimer(s.RetryEvery)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.kick:
			t.Stop()
		case <-t.C:
		}
	}
}

// UploadPending does one round of uploads: every released file of every
// APPROVED request not uploaded yet, then RELEASED for each request whose
// files are all uploaded. It returns the first failure (after trying every
// file).
func (s *Service) UploadPending(ctx context.Context) error {
	if err := s.init(); err != nil {
		return err
	}
	recs, err := s.Store.Requests(ctx, astore.Filter{Statuses: []review.Status{review.Approved}})
	if err != nil {
		return err
	}
	var errs []error
	for _, rec := range recs {
		if err := s.uploadRequest(ctx, rec); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Service) uploadRequest(ctx context.Context, rec *astore.Record) error {
	r := rec.Request
	var errs []error
	for _, name := range r.OutputFiles() {
		m := rec.Files[name]
		if m == nil || m.ReleasedAt == nil || m.UploadedAt != nil {
			continue
		}
		data, err := workspace.ReadFrozen(s.requestDir(r.Workspace), m.SHA256)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, err := s.Server.Upload(ctx, r.ID, name, data); err != nil {
			s.Logger.Warn("upload failed", "request", r.ID, "file", name, "err", err)
			errs = append(errs, err)
			continue
		}
		err = s.Store.Tx(ctx, func(tx *astore.Tx) error {
			cur, err := tx.Request(r.ID)
			if err != nil {
				return err
			}
			cm := cur.Files[name]
			if cm == nil || cm.UploadedAt != nil {
				return nil
			}
			at := s.now()
			cm.UploadedAt = &at
			if err := tx.Put(cur); err != nil {
				return err
			}
			return tx.Append(review.Event{
				Type: review.EventFileUpload, User: review.SystemUser, Workspace: r.Workspace, Request: r.ID, Path: name,
				Extra: map[string]string{"review_turn": strconv.Itoa(cur.Request.ReviewTurn), "sha256": cm.SHA256}, At: at,
			})
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return s.finishRelease(ctx, r.ID)
}

// finishRelease marks an APPROVED request RELEASED once every released
// file is uploaded.
func (s *Service) finishRelease(ctx context.Context, id string) error {
	var change statusChange
	err := s.Store.Tx(ctx, func(tx *astore.Tx) error {
		rec, err := tx.Request(id)
		if err != nil {
			return err
		}
		if rec.Request.Status != review.Approved {
			return nil
		}
		for _, name := range rec.Request.OutputFiles() {
			if m := rec.Files[name]; m == nil || m.UploadedAt == nil {
				return nil
			}
		}
		nr, events, err := review.Apply(rec.Request, review.SystemUser, false, review.FilesUploaded, review.Params{At: s.now()})
		if err != nil {
			return err
		}
		change, err = commit(tx, rec, nr, nr.ReleasedBy, events)
		return err
	})
	if err == nil && change.rec != nil {
		s.notify(change)
	}
	return err
}
