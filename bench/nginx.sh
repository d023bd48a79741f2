# Sourced by run.sh and compare.sh: the serving comparison's shared pieces.

# nearest_100k_feed FEEDS: prints the route of the tag RSS feed under FEEDS whose size is
# nearest 100 KB (empty when there is none).
nearest_100k_feed() {
  python3 - "$1" <<'PY'
import os, sys
root = sys.argv[1]
tags = os.path.join(root, "tags")
best = min(((abs(os.path.getsize(os.path.join(tags, t, "rss.xml")) - 100_000), t)
            for t in (os.listdir(tags) if os.path.isdir(tags) else [])
            if os.path.isfile(os.path.join(tags, t, "rss.xml"))), default=None)
print(f"/tags/{best[1]}/rss.xml" if best else "")
PY
}

# start_nginx DIR ROOT PORT: nginx serving ROOT on 127.0.0.1:PORT the way the benchmark
# compares it (2 workers, sendfile, etag, gzip_static, no access log, keep-alive without a
# request limit), its files under DIR; sets NGINX_PID.
start_nginx() {
  local dir=$1 root=$2 port=$3
  mkdir -p "$dir/tmp"
  cat > "$dir/nginx.conf" <<CONF
worker_processes 2;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
  types { application/rss+xml xml; application/json json; text/html html; text/x-opml opml; }
  default_type application/octet-stream;
  access_log off;
  sendfile on;
  tcp_nopush on;
  etag on;
  gzip_static on;
  keepalive_requests 1000000;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  server {
    listen 127.0.0.1:$port;
    root $root;
  }
}
CONF
  nginx -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' \
    > "$dir/stdout.log" 2>&1 &
  NGINX_PID=$!
}
