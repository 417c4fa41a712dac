package plan

import (
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/haven-tre/haven"
)

func TestLatestPerAction(t *testing.T) {
	p := parse(t, "version: '4.0'\nactions:\n"+pyAction("a")+pyAction("b")+pyAction("c")+pyAction("run_all"))
	at := func(min int) time.Time { return testNow.Add(time.Duration(min) * time.Minute) }
	job := func(id, action string, min int) *haven.Job {
		return &haven.Job{ID: id, Action: action, State: haven.StateSucceeded, CreatedAt: at(min)}
	}
	cancelled := func(j *haven.Job) *haven.Job { j.Cancelled = true; return j }
	tests := []struct {
		name         string
		jobs         []*haven.Job
		noPipeline   bool
		outputsExist func(*haven.Job) bool
		want         map[string]string // action -> job id
	}{
		{name: "no jobs", want: map[string]string{}},
		{name: "latest by created time, whatever the order",
			jobs: []*haven.Job{job("a2", "a", 2), job("a3", "a", 3), job("a1", "a", 1), job("b1", "b", 1)},
			want: map[string]string{"a": "a3", "b": "b1"}},
		{name: "a tie goes to the earlier job in the list",
			jobs: []*haven.Job{job("a1", "a", 1), job("first", "a", 5), job("second", "a", 5)},
			want: map[string]string{"a": "first"}},
		{name: "cancelled jobs are skipped, an older one stands",
			jobs: []*haven.Job{job("a1", "a", 1), cancelled(job("a2", "a", 2)), cancelled(job("b1", "b", 1))},
			want: map[string]string{"a": "a1"}},
		{name: "error jobs are skipped",
			jobs: []*haven.Job{job("e1", "__error__", 1), job("c1", "c", 1)},
			want: map[string]string{"c": "c1"}},
		{name: "actions no longer in the pipeline are skipped",
			jobs: []*haven.Job{job("gone1", "gone", 9), job("a1", "a", 1), job("r1", "run_all", 1)},
			want: map[string]string{"a": "a1"}},
		{name: "without a pipeline every action is kept",
			jobs:       []*haven.Job{job("gone1", "gone", 9), job("a1", "a", 1), job("e1", "__error__", 1)},
			noPipeline: true,
			want:       map[string]string{"a": "a1", "gone": "gone1"}},
		{name: "missing outputs drop the latest job, without falling back",
			jobs:         []*haven.Job{job("a1", "a", 1), job("a2", "a", 2), job("b1", "b", 1)},
			outputsExist: func(j *haven.Job) bool { return j.ID != "a2" },
			want:         map[string]string{"b": "b1"}},
		{name: "outputs are checked for latest jobs only",
			jobs:         []*haven.Job{job("a1", "a", 1), job("a2", "a", 2), cancelled(job("a3", "a", 3)), job("gone", "gone", 1)},
			outputsExist: func(j *haven.Job) bool { return j.ID == "a2" },
			want:         map[string]string{"a": "a2"}},
		{name: "nil entries are ignored",
			jobs: []*haven.Job{nil, job("a1", "a", 1)},
			want: map[string]string{"a": "a1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pp := p
			if tt.noPipeline {
				pp = nil
			}
			var checked []string
			exist := tt.outputsExist
			if exist != nil {
				exist = func(j *haven.Job) bool {
					checked = append(checked, j.ID)
					return tt.outputsExist(j)
				}
			}
			got := map[string]string{}
			for action, j := range LatestPerAction(tt.jobs, pp, exist) {
				got[action] = j.ID
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("latest = %v, want %v", got, tt.want)
			}
			// Only the latest job of each action still in the project is
			// looked for on disk.
			sort.Strings(checked)
			if len(checked) > len(tt.want)+1 {
				t.Errorf("outputsExist called for %v", checked)
			}
			for _, id := range checked {
				if id == "gone" || id == "a1" || id == "a3" {
					t.Errorf("outputsExist called for %s, which is not a latest job in the project", id)
				}
			}
		})
	}
}
