// Command genproject writes a synthetic, valid version-5 project.yaml to
// standard output, for benchmarks.
//
//	go run ./bench/genproject -shape chain -n 5000 > chain-5000.yaml
//	go run ./bench/genproject -shape fan -n 5000 > fan-5000.yaml
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/haven-tre/haven/bench/projgen"
)

func main() {
	shape := flag.String("shape", projgen.Chain, "needs graph: chain (each action needs the one before) or fan (root -> n-2 middles -> sink)")
	n := flag.Int("n", 5000, "number of actions")
	flag.Parse()
	if err := projgen.Write(os.Stdout, *shape, *n); err != nil {
		fmt.Fprintln(os.Stderr, "genproject:", err)
		os.Exit(2)
	}
}
