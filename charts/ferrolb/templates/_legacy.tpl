{{/*
Fails on a key of MetalLB's legacy configuration this chart does not
translate: (dict "where" "configInline.peers[0]" "map" $peer "known" (list
...)).
*/}}
{{- define "ferrolb.legacy.keys" -}}
{{- if not (kindIs "map" .map) }}
{{- fail (printf "%s must be a map, not %v" .where .map) }}
{{- end }}
{{- range $k, $_ := .map }}
{{- if not (has $k $.known) }}
{{- fail (printf "%s.%s: not a key of MetalLB's legacy configuration that FerroLB translates (known: %s)" $.where $k (join ", " $.known)) }}
{{- end }}
{{- end }}
{{- end }}
