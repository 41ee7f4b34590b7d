#!/usr/bin/env bash
# Autogenerate the next Alembic migration from the models: scripts/new-migration.sh NNNN "message"
set -euo pipefail
cd "$(dirname "$0")/.."
num="$1"; msg="$2"; db="$(mktemp -d)/mig.db"
.venv/bin/python - "$db" "$msg" <<'PY'
import sys
from roost.store.session import make_engine
from roost.store.migrate import revision, upgrade
engine = make_engine(f"sqlite:///{sys.argv[1]}")
upgrade(engine)
revision(engine, sys.argv[2])
PY
dir=roost/store/migrations/versions
f=$(ls -t "$dir"/*.py | head -1)
rev=$(grep "^revision" "$f" | cut -d"'" -f2)
sed -i "s/$rev/$num/g" "$f"
slug=$(echo "$msg" | tr 'A-Z ' 'a-z_' | tr -cd 'a-z0-9_' | cut -c1-40)
mv "$f" "$dir/${num}_${slug}.py"
echo "$dir/${num}_${slug}.py"
