-- The checksums a source URI names: as a registered file, a duplicate upload, a call or a quarantined file.
select checksum from asr_raw.landed_files where source_uri = %(uri)s
union select checksum from asr_raw.landed_duplicates where source_uri = %(uri)s
union select checksum from asr_raw.calls where source_uri = %(uri)s
union select checksum from asr_raw.quarantine where source_uri = %(uri)s
