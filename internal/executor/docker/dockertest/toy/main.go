// Command toy is a tiny interpreter that the docker executor's tests build
// into an image of their own, so they need no registry. It runs its
// arguments as a list of commands, left to right:
//
//	write <path> <content>   write a file (parents created)
//	echo <text>              print a line on stdout
//	echoerr <text>           print a line on stderr
//	lines <n>                print n numbered lines on stdout
//	exit <n>                 exit with status n
//	sleep <seconds>          sleep (fractions allowed)
//	await <path>             wait until a file exists
//	alloc <MiB>              allocate and touch memory, then keep it
//	net                      exit 0 only if no network is reachable
//	id                       print uid=<n> gid=<n>
//	status                   print CapEff and NoNewPrivs of this process
//	env <NAME>               print NAME=<value> (or NAME unset)
//	cat <path>               copy a file to stdout
//	spawn-and-sleep <secs>   start a child that sleeps, then sleep
//	behave <json>            carry out an executortest.Behaviour
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

func main() {
	args := os.Args[1:]
	for len(args) > 0 {
		n, err := run(args)
		if err != nil {
			fmt.Fprintf(os.Stderr, "toy: %s: %v\n", args[0], err)
			os.Exit(100)
		}
		args = args[n:]
	}
}

// run runs the command at the start of args and returns how many words it
// used.
func run(args []string) (int, error) {
	need := func(n int) error {
		if len(args) < n+1 {
			return fmt.Errorf("needs %d argument(s)", n)
		}
		return nil
	}
	switch args[0] {
	case "write":
		if err := need(2); err != nil {
			return 0, err
		}
		if err := os.MkdirAll(filepath.Dir(args[1]), 0o755); err != nil {
			return 0, err
		}
		return 3, os.WriteFile(args[1], []byte(args[2]), 0o644)
	case "echo":
		if err := need(1); err != nil {
			return 0, err
		}
		fmt.Println(args[1])
		return 2, nil
	case "echoerr":
		if err := need(1); err != nil {
			return 0, err
		}
		fmt.Fprintln(os.Stderr, args[1])
		return 2, nil
	case "lines":
		if err := need(1); err != nil {
			return 0, err
		}
		n, err := strconv.Atoi(args[1])
		if err != nil {
			return 0, err
		}
		w := bufio.NewWriter(os.Stdout)
		for i := 1; i <= n; i++ {
			fmt.Fprintf(w, "line %d\n", i)
		}
		return 2, w.Flush()
	case "exit":
		if err := need(1); err != nil {
			return 0, err
		}
		n, err := strconv.Atoi(args[1])
		if err != nil {
			return 0, err
		}
		os.Exit(n)
	case "sleep":
		if err := need(1); err != nil {
			return 0, err
		}
		s, err := strconv.ParseFloat(args[1], 64)
		if err != nil {
			return 0, err
		}
		time.Sleep(time.Duration(s * float64(time.Second)))
		return 2, nil
	case "await":
		if err := need(1); err != nil {
			return 0, err
		}
		for {
			if _, err := os.Stat(args[1]); err == nil {
				return 2, nil
			}
			time.Sleep(10 * time.Millisecond)
		}
	case "alloc":
		if err := need(1); err != nil {
			return 0, err
		}
		mib, err := strconv.Atoi(args[1])
		if err != nil {
			return 0, err
		}
		var blocks [][]byte
		for i := 0; i < mib; i++ {
			b := make([]byte, 1<<20)
			for j := range b {
				b[j] = byte(j)
			}
			blocks = append(blocks, b)
		}
		fmt.Printf("allocated %d MiB\n", len(blocks))
		return 2, nil
	case "net":
		return 1, checkNetwork()
	case "id":
		fmt.Printf("uid=%d gid=%d\n", os.Getuid(), os.Getgid())
		return 1, nil
	case "status":
		b, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return 0, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "CapEff:") || strings.HasPrefix(line, "NoNewPrivs:") {
				fmt.Println(strings.Join(strings.Fields(line), " "))
			}
		}
		return 1, nil
	case "env":
		if err := need(1); err != nil {
			return 0, err
		}
		if v, ok := os.LookupEnv(args[1]); ok {
			fmt.Printf("%s=%s\n", args[1], v)
		} else {
			fmt.Printf("%s unset\n", args[1])
		}
		return 2, nil
	case "cat":
		if err := need(1); err != nil {
			return 0, err
		}
		b, err := os.ReadFile(args[1])
		if err != nil {
			return 0, err
		}
		os.Stdout.Write(b)
		return 2, nil
	case "spawn-and-sleep":
		if err := need(1); err != nil {
			return 0, err
		}
		self, err := os.Executable()
		if err != nil {
			return 0, err
		}
		if err := exec.Command(self, "sleep", args[1]).Start(); err != nil {
			return 0, err
		}
		return run([]string{"sleep", args[1]})
	case "behave":
		if err := need(1); err != nil {
			return 0, err
		}
		return 2, behave(args[1])
	default:
		return 0, fmt.Errorf("unknown command")
	}
	return 0, nil
}

// checkNetwork fails if the process has any interface other than loopback
// or can open a connection to a non-routable documentation address (which
// in a network-less container fails at once, without leaving the host).
func checkNetwork() error {
	ifaces, err := net.Interfaces()
	if err != nil {
		return err
	}
	var names []string
	for _, i := range ifaces {
		names = append(names, i.Name)
	}
	fmt.Printf("interfaces: %s\n", strings.Join(names, ","))
	conn, err := net.DialTimeout("tcp", "192.0.2.1:80", 2*time.Second)
	if err == nil {
		conn.Close()
		return fmt.Errorf("dial succeeded")
	}
	fmt.Printf("dial: %v\n", err)
	for _, name := range names {
		if name != "lo" {
			return fmt.Errorf("network interface %s present", name)
		}
	}
	return nil
}

// behave carries out an executortest.Behaviour given as JSON: append the
// files, print the lines, then sleep for a day or exit with the code.
func behave(word string) error {
	var b struct {
		Files  map[string]string `json:"files"`
		Stdout []string          `json:"stdout"`
		Stderr []string          `json:"stderr"`
		Exit   int               `json:"exit"`
		Sleep  bool              `json:"sleep"`
	}
	if err := json.Unmarshal([]byte(word), &b); err != nil {
		return err
	}
	paths := make([]string, 0, len(b.Files))
	for p := range b.Files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		_, err = f.WriteString(b.Files[p])
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	for _, line := range b.Stdout {
		fmt.Println(line)
	}
	for _, line := range b.Stderr {
		fmt.Fprintln(os.Stderr, line)
	}
	if b.Sleep {
		time.Sleep(24 * time.Hour)
	}
	os.Exit(b.Exit)
	return nil
}
