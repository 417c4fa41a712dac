//go:build !unix

package docker

// lockDaemon is a no-op where flock is not available.
func lockDaemon() (release func(), err error) { return func() {}, nil }
