package pipeline

import (
	"container/heap"
	"fmt"
)

// graph is the needs graph over action indexes; edges run from an action to
// the actions it needs. Entries naming unknown actions are left out (they are
// reported on their own).
type graph struct {
	edges [][]int
}

func newGraph(actions []*actionState, idx map[string]int) *graph {
	g := &graph{edges: make([][]int, len(actions))}
	for i, st := range actions {
		for _, n := range st.action.Needs {
			if j, ok := idx[n]; ok {
				g.edges[i] = append(g.edges[i], j)
			}
		}
	}
	return g
}

// cycles returns one cycle per strongly connected component that has one,
// each as a list of action indexes starting from the component's first
// action in file order and following needs back round to it. Components are
// returned in file order of their first action.
func (g *graph) cycles() [][]int {
	n := len(g.edges)
	comp := g.components()
	size := make([]int, n) // component sizes; components are numbered below n
	for i := 0; i < n; i++ {
		size[comp[i]]++
	}
	var out [][]int
	done := make([]bool, n)
	for i := 0; i < n; i++ { // file order
		c := comp[i]
		if done[c] {
			continue
		}
		done[c] = true
		if size[c] == 1 && !g.hasEdge(i, i) {
			continue
		}
		out = append(out, g.pathWithin(i, comp))
	}
	return out
}

func (g *graph) hasEdge(a, b int) bool {
	for _, x := range g.edges[a] {
		if x == b {
			return true
		}
	}
	return false
}

// pathWithin finds the shortest cycle through start that stays inside
// start's component (breadth-first, so the path reported is short).
func (g *graph) pathWithin(start int, comp []int) []int {
	prev := map[int]int{}
	queue := []int{start}
	visited := map[int]bool{start: true}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, nx := range g.edges[cur] {
			if comp[nx] != comp[start] {
				continue
			}
			if nx == start {
				path := []int{cur}
				for path[len(path)-1] != start {
					path = append(path, prev[path[len(path)-1]])
				}
				// path runs cur -> … -> start backwards; reverse it.
				for l, r := 0, len(path)-1; l < r; l, r = l+1, r-1 {
					path[l], path[r] = path[r], path[l]
				}
				return path
			}
			if !visited[nx] {
				visited[nx] = true
				prev[nx] = cur
				queue = append(queue, nx)
			}
		}
	}
	return []int{start}
}

// components labels strongly connected components (Tarjan's algorithm,
// iterative so deep chains cannot exhaust the stack).
func (g *graph) components() []int {
	n := len(g.edges)
	index := make([]int, n)
	low := make([]int, n)
	onStack := make([]bool, n)
	comp := make([]int, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	next, nComp := 0, 0
	type frame struct{ v, e int }
	for root := 0; root < n; root++ {
		if index[root] >= 0 {
			continue
		}
		call := []frame{{root, 0}}
		index[root], low[root] = next, next
		next++
		stack = append(stack, root)
		onStack[root] = true
		for len(call) > 0 {
			f := &call[len(call)-1]
			if f.e < len(g.edges[f.v]) {
				w := g.edges[f.v][f.e]
				f.e++
				if index[w] < 0 {
					index[w], low[w] = next, next
					next++
					stack = append(stack, w)
					onStack[w] = true
					call = append(call, frame{w, 0})
				} else if onStack[w] && index[w] < low[f.v] {
					low[f.v] = index[w]
				}
				continue
			}
			v := f.v
			call = call[:len(call)-1]
			if len(call) > 0 {
				if p := call[len(call)-1].v; low[v] < low[p] {
					low[p] = low[v]
				}
			}
			if low[v] == index[v] {
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					comp[w] = nComp
					if w == v {
						break
					}
				}
				nComp++
			}
		}
	}
	return comp
}

// topoOrder orders actions so each comes after everything it needs, keeping
// file order wherever the needs allow (Kahn's algorithm with the smallest
// file index first). pos maps ids to indexes. The pipeline has no cycles
// when this is called.
func topoOrder(actions []*Action, pos map[string]int) []string {
	n := len(actions)
	indeg := make([]int, n)
	// dependents in compressed form: those of action j are
	// dep[start[j]:start[j+1]].
	start := make([]int, n+1)
	for _, a := range actions {
		for _, need := range a.Needs {
			start[pos[need]+1]++
		}
	}
	for j := 0; j < n; j++ {
		start[j+1] += start[j]
	}
	dep := make([]int, start[n])
	fill := append([]int(nil), start[:n]...)
	for i, a := range actions {
		for _, need := range a.Needs {
			j := pos[need]
			dep[fill[j]] = i
			fill[j]++
			indeg[i]++
		}
	}
	ready := &intHeap{}
	for i, d := range indeg {
		if d == 0 {
			*ready = append(*ready, i)
		}
	}
	heap.Init(ready)
	out := make([]string, 0, n)
	for ready.Len() > 0 {
		i := heap.Pop(ready).(int)
		out = append(out, actions[i].ID)
		for _, j := range dep[start[i]:start[i+1]] {
			indeg[j]--
			if indeg[j] == 0 {
				heap.Push(ready, j)
			}
		}
	}
	return out
}

// TopologicalOrder lists every action so that each comes after the actions
// it needs, in file order where the needs leave a choice.
func (p *Pipeline) TopologicalOrder() []string {
	return append([]string(nil), p.order...)
}

// Dependencies returns the ids of every action the named actions need,
// directly or indirectly, in topological order, without the named actions.
func (p *Pipeline) Dependencies(ids ...string) ([]string, error) {
	want := map[string]bool{}
	var visit func(id string)
	visit = func(id string) {
		for _, n := range p.Action(id).Needs {
			if !want[n] {
				want[n] = true
				visit(n)
			}
		}
	}
	for _, id := range ids {
		if p.Action(id) == nil {
			return nil, fmt.Errorf("action %q is not in %s", id, p.File)
		}
		visit(id)
	}
	for _, id := range ids {
		delete(want, id)
	}
	var out []string
	for _, id := range p.order {
		if want[id] {
			out = append(out, id)
		}
	}
	return out, nil
}

// Dependents returns the actions that directly need the named action, in
// file order.
func (p *Pipeline) Dependents(id string) []string {
	var out []string
	for _, a := range p.Actions {
		for _, n := range a.Needs {
			if n == id {
				out = append(out, a.ID)
				break
			}
		}
	}
	return out
}

// intHeap is a min-heap of action indexes for container/heap.
type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
