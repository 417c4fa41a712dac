package sqlstore

import (
	"reflect"
	"testing"
)

func TestDollars(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT a FROM t WHERE b = ?`, `SELECT a FROM t WHERE b = $1`},
		{`INSERT INTO t (a, b) VALUES (?, ?)`, `INSERT INTO t (a, b) VALUES ($1, $2)`},
		{`SELECT '?' FROM t WHERE a = ? AND b LIKE ? ESCAPE '\'`, `SELECT '?' FROM t WHERE a = $1 AND b LIKE $2 ESCAPE '\'`},
		{`SELECT "odd?name" FROM t WHERE a = ?`, `SELECT "odd?name" FROM t WHERE a = $1`},
	} {
		if got := dollars(tc.in); got != tc.want {
			t.Errorf("dollars(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	d := Dialect{}
	if got := d.rebind(`a = ?`); got != `a = ?` {
		t.Errorf("rebind without DollarPlaceholders = %q", got)
	}
}

func TestJSONText(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want string
	}{
		{[]string(nil), `[]`},
		{[]string{"a", "b"}, `["a","b"]`},
		{map[string]string(nil), `{}`},
		{map[string]float64{"cpu_peak": 1.5}, `{"cpu_peak":1.5}`},
	} {
		var got string
		var err error
		switch v := tc.in.(type) {
		case []string:
			got, err = jsonText(v)
		case map[string]string:
			got, err = jsonText(v)
		case map[string]float64:
			got, err = jsonText(v)
		}
		if err != nil || got != tc.want {
			t.Errorf("jsonText(%#v) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	var list []string
	if err := decodeList(`[]`, &list); err != nil || list != nil {
		t.Errorf("decodeList([]) = %#v, %v; want nil", list, err)
	}
	var m map[string]float64
	if err := decodeMap(`{"a":2}`, &m); err != nil || !reflect.DeepEqual(m, map[string]float64{"a": 2}) {
		t.Errorf("decodeMap = %#v, %v", m, err)
	}
	if _, err := jsonText(map[string]float64{"x": inf()}); err == nil {
		t.Error("jsonText(+Inf metric) succeeded, want an error")
	}
}

func inf() float64 {
	var zero float64
	return 1 / zero
}
