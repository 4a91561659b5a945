#!/usr/bin/env bash
# Regenerate the committed reference fixtures (testdata/refs/*.gz) from the Python reference
# scripts: the tests that compare against scipy/scikit-image run their live comparison and,
# with WIRING_WRITE_FIXTURES=1, save what the script printed. Needs Debian's /usr/bin/python3
# with python3-scipy, python3-skimage, python3-h5py (see py/ and ../../../shared/refs/README.md),
# and ../shared/data/gala-medulla for the metrics fixture.
set -euo pipefail
cd "$(dirname "$0")/../.."
WIRING_WRITE_FIXTURES=1 npx vitest run \
  src/kernels/components.test.ts src/kernels/edt.test.ts src/kernels/watershed/watershed.test.ts \
  src/kernels/filters.test.ts src/stages/predict/features.test.ts src/metrics/segmentation.test.ts
ls -l testdata/refs/*.gz
