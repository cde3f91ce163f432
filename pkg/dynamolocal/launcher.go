package dynamolocal

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

//go:embed LoopbackLauncher.java
var launcherSource []byte

// launcher compiles LoopbackLauncher.java once per source and emulator
// version into the user cache and returns the class directory. Compiling
// into a temporary directory and renaming it makes concurrent test
// packages safe: the loser of the race just uses the winner's classes.
func launcher(emulatorDir string) (string, error) {
	jar, err := os.Stat(filepath.Join(emulatorDir, "DynamoDBLocal.jar"))
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%d\n%s\n", launcherSource, jar.Size(), jar.ModTime())
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "brightrun", "dynamolocal-"+hex.EncodeToString(h.Sum(nil))[:16])
	if _, err := os.Stat(filepath.Join(dir, "LoopbackLauncher.class")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "compile-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "LoopbackLauncher.java")
	if err := os.WriteFile(src, launcherSource, 0o644); err != nil {
		return "", err
	}
	out, err := exec.Command("javac", "-nowarn", "-cp", classpath(emulatorDir, ""), "-d", tmp, src).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("compile DynamoDB Local launcher (javac from a JDK 17 is needed): %v\n%s", err, out)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, "LoopbackLauncher.class")); statErr == nil {
			return dir, nil // another process won the race
		}
		return "", err
	}
	return dir, nil
}

func classpath(emulatorDir, classDir string) string {
	cp := filepath.Join(emulatorDir, "DynamoDBLocal.jar") + string(os.PathListSeparator) + filepath.Join(emulatorDir, "DynamoDBLocal_lib", "*")
	if classDir != "" {
		cp = classDir + string(os.PathListSeparator) + cp
	}
	return cp
}
