#!/bin/sh
# As in the official image: render /etc/nginx/templates/<path>.template into /etc/nginx/conf.d/<path>, replacing
# only ${VARIABLES} that are set in the environment (nginx's own $variables stay).
set -e
template_dir=${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}
suffix=${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}
output_dir=${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}
filter=${NGINX_ENVSUBST_FILTER:-}

[ -d "$template_dir" ] || exit 0
if [ ! -w "$output_dir" ]; then
  echo "$0: $output_dir is not writable" >&2
  exit 0
fi
# shellcheck disable=SC2016,SC2046 # literal ${NAME} list, one word per variable name
defined_envs=$(printf '${%s} ' $(awk "END { for (name in ENVIRON) { print ( name ~ /${filter}/ ) ? name : \"\" } }" </dev/null))
find "$template_dir" -follow -type f -name "*$suffix" -print | while read -r template; do
  relative_path=${template#"$template_dir/"}
  output_path=$output_dir/${relative_path%"$suffix"}
  mkdir -p "$(dirname "$output_path")"
  [ -n "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ] || echo "$0: rendering $template to $output_path" >&2
  envsubst "$defined_envs" <"$template" >"$output_path"
done
