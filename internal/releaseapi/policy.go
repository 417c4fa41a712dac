package releaseapi

import (
	"fmt"

	"github.com/haven-tre/haven/internal/pipeline"
	"github.com/haven-tre/haven/internal/policy"
)

// MaxFileSize is the largest file a release may hold (spec §11.3).
const MaxFileSize = policy.MaxFileSize

// sizeMessage is the create answer for a file over MaxFileSize.
const sizeMessage = policy.SizeMessage

// checkLevel refuses metadata that says the file is anything but
// moderately_sensitive: nothing else may leave a backend.
func checkLevel(what string, meta map[string]string) error {
	if level, ok := meta["level"]; ok && level != pipeline.ModeratelySensitive {
		return fmt.Errorf("%s: level %q cannot be released; only %s outputs can", what, level, pipeline.ModeratelySensitive)
	}
	return nil
}
