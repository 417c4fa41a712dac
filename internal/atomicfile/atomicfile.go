// Package atomicfile writes whole files so that a reader, or the next run
// after a crash, sees the old file or the new one and never a part: the
// bytes go to a temporary file in the same folder, are flushed, and the
// file is renamed into place.
package atomicfile

import (
	"os"
	"path/filepath"
)

// WriteFile writes data to path atomically, with mode 0644, and flushes
// the folder so the rename itself survives a power cut where the file
// system allows.
func WriteFile(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err = f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
