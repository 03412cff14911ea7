#!/usr/bin/env bash
# Generates the Python stubs (broker_pb2.py, broker_pb2_grpc.py) from the
# broker's proto/broker.proto with grpcio-tools, into this folder or $1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
python=${PYTHON:-python3}
"$python" -m grpc_tools.protoc -I "$here/../../broker/proto" \
  --python_out="$out" --grpc_python_out="$out" broker.proto
