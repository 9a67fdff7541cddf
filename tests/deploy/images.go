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
	"debian":                "bookworm-slim is rebuilt monthly; a digest must be resolved against the registry",
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
