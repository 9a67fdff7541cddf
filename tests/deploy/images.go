package deploy

import (
	"fmt"
	"regexp"
	"strings"
)

// AwaitingDigest lists the third-party images still referenced by tag
// only, with why. A digest pins the exact bytes a tag pointed to when it was
// resolved; the development machines reach no registry, so only digests
// published for these exact tags elsewhere could be taken, and none were
// found for these. Renovate (.github/renovate.json, docker:pinDigests) adds
// them on its first run; TestImagesArePinnedByDigest then fails until the
// entry is removed here.
var AwaitingDigest = map[string]string{
	"golang":                "the build stage's tag follows GO_VERSION; no digest of this patch release was found",
	"localstack/localstack": "no published digest of 4.10.0 was found",
	"motoserver/moto":       "no published digest of 5.2.1 (the version ensure-moto.sh installs) was found",
}

var imageRef = regexp.MustCompile(`^([^@\s]+?)(?::([\w][\w.-]*))?(?:@(sha256:[0-9a-f]{64}))?$`)

// ImageRepository is the repository part of an image reference (no tag,
// no digest).
func ImageRepository(ref string) string {
	if m := imageRef.FindStringSubmatch(ref); m != nil {
		return m[1]
	}
	return ref
}

// PinProblem says what is wrong with how a third-party image reference is
// pinned, or "" when it names a version and its digest (name:tag@sha256:…,
// the tag kept for people and Renovate). Images in AwaitingDigest need only
// a version tag.
func PinProblem(ref string) string {
	m := imageRef.FindStringSubmatch(ref)
	switch {
	case m == nil:
		return fmt.Sprintf("image %q is not a valid reference", ref)
	case m[2] == "" || m[2] == "latest" || strings.Contains(m[2], "$"):
		return fmt.Sprintf("image %q is not pinned to a version", ref)
	case m[3] != "":
		return ""
	case AwaitingDigest[m[1]] != "":
		return ""
	default:
		return fmt.Sprintf("image %q is not pinned by digest (name:tag@sha256:…)", ref)
	}
}

// debianVersion is a Debian package version: [epoch:]upstream[-revision].
var debianVersion = regexp.MustCompile(`^([0-9]+:)?[0-9][A-Za-z0-9.+~-]*$`)

// AptPinProblem says what is wrong with a package named to apt-get install,
// or "" when it is pinned to one version (name=version).
func AptPinProblem(spec string) string {
	name, version, pinned := strings.Cut(spec, "=")
	switch {
	case name == "" || strings.ContainsAny(name, "*?[]/"):
		return fmt.Sprintf("package %q is not a package name", spec)
	case !pinned:
		return fmt.Sprintf("package %s is not pinned to a version (%s=<version>)", name, name)
	case !debianVersion.MatchString(version):
		return fmt.Sprintf("package %s: %q is not a Debian version", name, version)
	}
	return ""
}

// AptInstalls returns the packages of every `apt-get install` in a
// Dockerfile stage (continuation lines joined; options left out).
func AptInstalls(stage string) []string {
	joined := strings.ReplaceAll(stage, "\\\n", " ")
	var pkgs []string
	for _, m := range regexp.MustCompile(`apt-get\s+install\s+([^&;|]*)`).FindAllStringSubmatch(joined, -1) {
		for _, f := range strings.Fields(m[1]) {
			if !strings.HasPrefix(f, "-") {
				pkgs = append(pkgs, f)
			}
		}
	}
	return pkgs
}
