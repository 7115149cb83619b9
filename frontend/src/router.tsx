import type { AnchorHTMLAttributes, ReactNode } from "react";
import { Link as WouterLink, Router, useLocation, useSearch } from "wouter";

// Routing by wouter (history API): every page is an address that can be linked and bookmarked.

export function RouterProvider({ children }: { children: ReactNode }) {
  return <Router>{children}</Router>;
}

export function useRouter() {
  const [path, setLocation] = useLocation();
  const search = useSearch();
  return { path, search: search ? `?${search}` : "", navigate: (to: string) => setLocation(to) };
}

export function Link({
  to,
  children,
  ...rest
}: { to: string; children: ReactNode } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  const [path] = useLocation();
  return (
    <WouterLink href={to} aria-current={path === to ? "page" : undefined} {...rest}>
      {children}
    </WouterLink>
  );
}
