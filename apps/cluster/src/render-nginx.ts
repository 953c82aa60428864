import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { COMPOSE_NGINX_CONF_PATH, COMPOSE_NGINX_OPTIONS, REPO_ROOT, renderNginxConfig } from '@herald/edge-config';

// `npm run render:nginx`: re-renders the compose stack's nginx config after a change to nginx/nginx.conf.template.
writeFileSync(COMPOSE_NGINX_CONF_PATH, renderNginxConfig(COMPOSE_NGINX_OPTIONS));
process.stdout.write(`wrote ${relative(REPO_ROOT, COMPOSE_NGINX_CONF_PATH)}\n`);
