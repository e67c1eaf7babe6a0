#!/bin/sh
# Seeds an empty model store from the archives baked into the image (/app/archives: `make archive`
# output at build time). Run once per start by compose's store-init service and by the
# Kubernetes pod's initContainer, before TorchServe starts:
#   - creates the store's directories (archives, retrained models, job lock/status, NSMC cache);
#   - if the store already has a registry.json it is left alone: promotions and rollbacks made
#     since (registry.json, fast.v<N>.mar) are never overwritten;
#   - otherwise copies each missing archive, registry.json last (its presence means "seeded"),
#     each through a temporary name and a rename, so pods seeding one shared volume at the same
#     time never see half a file.
set -eu

seed_dir=${SEED_DIR:-/app/archives}
store=${SENTIMENT_MODEL_STORE:-/store/archives}

for dir in "$store" "${SENTIMENT_MODELS_DIR:-}" "${SENTIMENT_JOB_DIR:-}" "${SENTIMENT_NSMC_CACHE_DIR:-}"; do
  [ -z "$dir" ] || mkdir -p "$dir"
done

if [ -f "$store/registry.json" ]; then
  echo "seed-store: $store/registry.json exists; the store is left as it is"
  exit 0
fi
if [ ! -f "$seed_dir/registry.json" ]; then
  echo "seed-store: no $seed_dir/registry.json in the image (build it after \`make archive\`)" >&2
  exit 1
fi

for src in "$seed_dir"/*.mar "$seed_dir/registry.json"; do
  name=$(basename "$src")
  if [ -e "$store/$name" ]; then
    continue
  fi
  tmp="$store/.seed.${HOSTNAME:-host}.$$.$name"
  cp "$src" "$tmp"
  mv -f "$tmp" "$store/$name"
  echo "seed-store: copied $name"
done
