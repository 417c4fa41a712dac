//go:build !linux

package gctune

// physicalMemory is unknown off Linux: ForBatchCommand falls back.
func physicalMemory() uint64 { return 0 }
