// Package dockertest gives tests a Docker client and a tiny image of their
// own, built without any registry: the toy interpreter in toy/, compiled
// here and imported from a tar stream.
package dockertest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Client returns a client of the local Docker daemon. When the daemon
// does not answer the test is skipped, unless HAVEN_REQUIRE_DOCKER=1, when
// it fails.
func Client(t testing.TB) *client.Client {
	t.Helper()
	cli, err := client.New(client.FromEnv)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
		cancel()
		if err != nil {
			cli.Close()
		}
	}
	if err != nil {
		if os.Getenv("HAVEN_REQUIRE_DOCKER") == "1" {
			t.Fatalf("HAVEN_REQUIRE_DOCKER=1 but Docker is not usable: %v", err)
		}
		t.Skipf("Docker daemon not available (set HAVEN_REQUIRE_DOCKER=1 to fail instead): %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// ToyImage returns the name of an image holding only the toy interpreter
// (toy/) as its entrypoint, building and importing it when the
// daemon does not have it yet. No registry is involved: the binary is
// compiled here and imported from a tar stream. The tag is a hash of the
// toy's source, so a changed toy gets a new image and tests running in
// parallel agree on the name without sharing state.
func ToyImage(t testing.TB, cli *client.Client) string {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	toyDir := filepath.Join(filepath.Dir(here), "toy")
	src, err := os.ReadFile(filepath.Join(toyDir, "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(src)
	image := "haven-test-toy:" + hex.EncodeToString(sum[:6])
	ctx := context.Background()
	if _, err := cli.ImageInspect(ctx, image); err == nil {
		return image
	} else if !cerrdefs.IsNotFound(err) {
		t.Fatalf("inspect %s: %v", image, err)
	}

	bin := filepath.Join(t.TempDir(), "toy")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, ".")
	cmd.Dir = toyDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the toy interpreter: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	for _, h := range []*tar.Header{
		{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777}, // HOME=/tmp
		{Name: "toy", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(data))},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	rc, err := cli.ImageImport(ctx, client.ImageImportSource{Source: &layer, SourceName: "-"}, image,
		client.ImageImportOptions{Changes: []string{`ENTRYPOINT ["/toy"]`}})
	if err != nil {
		t.Fatalf("import %s: %v", image, err)
	}
	defer rc.Close()
	out, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("import %s: %v", image, err)
	}
	if bytes.Contains(out, []byte(`"error"`)) {
		t.Fatalf("import %s: %s", image, out)
	}
	return image
}
