import { useEffect, useState } from "react";
import { request } from "../api";

/** An image from an authenticated API path (an <img src> cannot send the bearer token). */
export function AuthImage({ path, alt, className }: { path: string; alt: string; className?: string }) {
  const [url, setUrl] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let objectUrl: string | null = null;
    let live = true;
    request(path)
      .then((r) => r.blob())
      .then((blob) => {
        if (!live) return;
        objectUrl = URL.createObjectURL(blob);
        setUrl(objectUrl);
        setError(null);
      })
      .catch((exc: Error) => live && setError(exc.message));
    return () => {
      live = false;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [path]);
  if (error) return <p className="error">{error}</p>;
  if (!url) return null;
  return <img src={url} alt={alt} className={className ?? "chart"} />;
}
