#!/bin/sh
# As upstream: no arguments run `n8n`, arguments run `n8n <args>`.
if [ "$#" -gt 0 ]; then
  exec n8n "$@"
else
  exec n8n
fi
