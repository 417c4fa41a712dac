package disclosure

import (
	"reflect"
	"sort"
	"testing"
)

// R2: a percentage beside only its denominator.
func TestPercentWithOnlyADenominator(t *testing.T) {
	tests := []struct {
		name, csv string
		want      []string
	}{
		{"small numerator", "region,population,percent\nEast,200,2.0\nWest,400,50.0\n", []string{"R2 FAIL 1,percent"}},
		{"whole percent, all small", "region,population,percent\nEast,200,2\nWest,400,50\n", []string{"R2 FAIL 1,percent"}},
		{"imprecise: some small", "region,population,percent\nEast,1000,1\nWest,400,50\n", []string{"R2 REVIEW 1,percent"}},
		{"unrounded numerator pinned", "region,population,percent\nEast,1000,12.3\nWest,400,50.0\n", []string{"R2 FAIL 1,percent"}},
		{"near miss: safe and rounded", "region,population,percent\nEast,1000,12.5\nWest,400,50.0\n", nil},
		// cohort-extractor's measure files: value is num/den, a ratio.
		{"ratio named value", "region,population,value\nEast,15000,0.06\nWest,15000,0.04\n", nil},
		{"ratio named value, small numerator", "region,population,value\nEast,15000,0.0002\nWest,15000,0.04\n", []string{"R2 FAIL 1,value"}},
	}
	for _, tt := range tests {
		fr := CheckFile("t.csv", []byte(tt.csv), Options{Profile: mustProfile(t, "opensafely")})
		got := nonPass(fr)
		want := append([]string(nil), tt.want...)
		sort.Strings(want)
		if !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("%s: findings %q, want %q", tt.name, got, want)
		}
	}
}
