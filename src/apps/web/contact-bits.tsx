/** Pieces shared by the contacts list and its editor: the logo (with its placeholder) and field errors. */
import { useEffect, useState } from 'react'
import { ApiError } from './api.js'

/** A contact's logo, or its initial while the image is missing or still being fetched. */
export function Logo({ hash, name, version }: { hash: string | undefined; name: string; version: number }) {
  const [failed, setFailed] = useState(false)
  useEffect(() => setFailed(false), [hash, version])
  if (hash === undefined || failed) {
    return (
      <span className="logo placeholder" aria-hidden="true" title={hash === undefined ? undefined : 'image pending'}>
        {name.slice(0, 1).toUpperCase()}
      </span>
    )
  }
  return <img className="logo" alt="" src={`/api/v1/blobs/${hash}?v=${version}`} onError={() => setFailed(true)} />
}

/** Whether an error is a validation error on `field` (or one of its items, `emails[0]`). */
export function onField(error: unknown, field: string): string | undefined {
  if (!(error instanceof ApiError) || error.field === undefined) return undefined
  const f = error.field
  return f === field || f.startsWith(`${field}[`) || f.startsWith(`${field}.`) ? error.message : undefined
}
