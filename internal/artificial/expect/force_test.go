package expect

import (
	"strings"
	"testing"

	"github.com/haven-tre/haven/internal/artificial/frame"
)

func TestForcedBooleans(t *testing.T) {
	study := Study{PopulationSize: 1000, Variables: []Variable{
		{Name: "registered", Kind: Bool, Force: ForceTrue},
		{Name: "died", Kind: Bool, Force: ForceFalse, Expectations: map[string]any{"incidence": 0.5}},
		{Name: "flag", Kind: Bool, Expectations: map[string]any{"incidence": 0.5}},
	}}
	p, err := NewPlan(study, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b frame.Batch
	p.Fill(&b, 0, 1000)
	sum := func(c int) (n int) {
		for _, v := range b.Cols[c].Ints {
			n += int(v)
		}
		return n
	}
	if got := sum(1); got != 1000 {
		t.Errorf("registered is 1 on %d rows, want all 1000", got)
	}
	if got := sum(2); got != 0 {
		t.Errorf("died is 1 on %d rows, want none", got)
	}
	if got := sum(3); got != 500 {
		t.Errorf("flag is 1 on %d rows, want 500", got)
	}
	_, err = NewPlan(Study{PopulationSize: 10, Variables: []Variable{{Name: "age", Kind: Int, Force: ForceTrue}}}, Options{})
	if err == nil || !strings.Contains(err.Error(), "only a bool variable can be fixed by the population") {
		t.Errorf("forcing an int: %v", err)
	}
}
