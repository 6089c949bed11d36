package main

import (
	"bytes"
	"fmt"
	"testing"
)

// mth is RFC 9162 §2.1.1's MTH, written as the RFC's recursion (split at the
// largest power of two below n), independent of the proof check under test.
func mth(leaves [][]byte) []byte {
	if len(leaves) == 1 {
		return leafHash(leaves[0])
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	return nodeHash(mth(leaves[:k]), mth(leaves[k:]))
}

// proof is RFC 9162 §2.1.3.1's PATH(m, D[n]), also as the RFC's recursion.
func proof(m int, leaves [][]byte) [][]byte {
	if len(leaves) == 1 {
		return nil
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	if m < k {
		return append(proof(m, leaves[:k]), mth(leaves[k:]))
	}
	return append(proof(m-k, leaves[k:]), mth(leaves[:k]))
}

func TestInclusionProofsOfEveryLeafOfSmallTrees(t *testing.T) {
	for n := 1; n <= 40; n++ {
		leaves := make([][]byte, n)
		for i := range leaves {
			leaves[i] = []byte(fmt.Sprintf("leaf %d", i))
		}
		root := mth(leaves)
		for m := 0; m < n; m++ {
			path := proof(m, leaves)
			if got := auditPathLength(int64(m), int64(n)); got != len(path) {
				t.Fatalf("n=%d m=%d: auditPathLength %d, RFC path %d", n, m, got, len(path))
			}
			got, err := rootFromInclusionProof(leafHash(leaves[m]), int64(m), int64(n), path)
			if err != nil || !bytes.Equal(got, root) {
				t.Fatalf("n=%d m=%d: proof does not lead to the root (%v)", n, m, err)
			}
			// Another index or a shorter proof must not lead to the same root.
			if m+1 < n {
				if got, err := rootFromInclusionProof(leafHash(leaves[m]), int64(m+1), int64(n), path); err == nil && bytes.Equal(got, root) {
					t.Fatalf("n=%d m=%d: the proof also fits index %d", n, m, m+1)
				}
			}
			if len(path) > 0 {
				if _, err := rootFromInclusionProof(leafHash(leaves[m]), int64(m), int64(n), path[1:]); err == nil {
					t.Fatalf("n=%d m=%d: a proof one hash short was accepted", n, m)
				}
			}
		}
	}
	if got := auditPathLength(0, maxTreeSize); got != maxPath {
		t.Fatalf("a tree of %d leaves has paths of %d, not %d", maxTreeSize, got, maxPath)
	}
}
