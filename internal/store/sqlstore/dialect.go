package sqlstore

import (
	"strconv"
	"strings"
	"sync"
)

// Violation is the kind of constraint a failed statement broke.
type Violation int

// Violations.
const (
	NoViolation Violation = iota
	UniqueViolation
	ForeignKeyViolation
	CheckViolation
	NotNullViolation
	// AppendOnlyViolation: a trigger refused to change the audit log.
	AppendOnlyViolation
)

// Dialect is what differs between the databases sqlstore runs on. The
// SQL itself is written once, with ? placeholders, RETURNING id, ON
// CONFLICT and the boolean literals TRUE and FALSE, which both databases
// understand.
type Dialect struct {
	// Name is shown in error messages ("sqlite", "postgres").
	Name string
	// DollarPlaceholders rewrites ? placeholders to $1, $2, … .
	DollarPlaceholders bool
	// ForUpdate is appended to a SELECT of rows the transaction is about
	// to change: " FOR UPDATE" where row locks exist, "" where a write
	// transaction already holds the whole database (SQLite's BEGIN
	// IMMEDIATE).
	ForUpdate string
	// SkipLocked is appended to the claim query so concurrent polls pass
	// over each other's rows (" FOR UPDATE SKIP LOCKED"), or "".
	SkipLocked string
	// Classify reports which constraint err broke and the constraint's or
	// column's name as the database reports it.
	Classify func(err error) (Violation, string)
	// Retryable reports an error after which the whole transaction may be
	// run again (a deadlock or serialization failure); nil for never.
	Retryable func(err error) bool
	// PrepareReads keeps a prepared statement per read query (for
	// drivers that do not cache them themselves).
	PrepareReads bool
	// OverrideIdentity goes between an INSERT's column list and VALUES
	// when the row's identity is given (" OVERRIDING SYSTEM VALUE"), or "".
	OverrideIdentity string
	// SyncIdentity, when not nil, returns the statement that moves a
	// table's id generator past the highest id after an insert with a
	// given id; SQLite's AUTOINCREMENT does that by itself.
	SyncIdentity func(table string) string
}

var rebound sync.Map // query → rewritten query

// rebind rewrites a query's ? placeholders for the dialect.
func (d *Dialect) rebind(query string) string {
	if !d.DollarPlaceholders {
		return query
	}
	if q, ok := rebound.Load(query); ok {
		return q.(string)
	}
	q := dollars(query)
	rebound.Store(query, q)
	return q
}

// dollars replaces each ? outside quotes with $n.
func dollars(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
