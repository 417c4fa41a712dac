package agentapi

import "sync"

// Notifier wakes the long polls waiting for a backend's work, in this
// process. The job server calls Wake after it queues or cancels jobs; the
// reaper after it hands jobs back to the queue. The zero value is ready to
// use.
type Notifier struct {
	mu sync.Mutex
	ch map[int64]chan struct{}
}

// Wait returns a channel that is closed at the next Wake for the backend.
// Take it before looking for work, so a wake in between is not missed.
func (n *Notifier) Wait(backendID int64) <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = map[int64]chan struct{}{}
	}
	c := n.ch[backendID]
	if c == nil {
		c = make(chan struct{})
		n.ch[backendID] = c
	}
	return c
}

// Wake wakes every poll waiting for the backend.
func (n *Notifier) Wake(backendID int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if c := n.ch[backendID]; c != nil {
		close(c)
		delete(n.ch, backendID)
	}
}

// WakeAll wakes every waiting poll of every backend.
func (n *Notifier) WakeAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for id, c := range n.ch {
		close(c)
		delete(n.ch, id)
	}
}

// Waiting reports whether a poll has asked to be woken for the backend's
// work and not been woken since.
func (n *Notifier) Waiting(backendID int64) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ch[backendID] != nil
}
