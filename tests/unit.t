#!/bin/sh
# Unit tests of common/ (tests/unit/test-common.c).
PKI_BUILD=${PKI_BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build}
exec "$PKI_BUILD/tests/test-common"
