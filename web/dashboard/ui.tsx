// Small shared pieces of the page.
import { useState, type ReactNode } from 'react';

export function CopyButton({ text, label = 'Copy', describedBy }: { text: string; label?: string; describedBy?: string }) {
  const [copied, setCopied] = useState<'idle' | 'done' | 'failed'>('idle');
  return (
    <button
      type="button"
      className="btn btn-secondary btn-small"
      aria-describedby={describedBy}
      onClick={() => {
        navigator.clipboard.writeText(text).then(
          () => setCopied('done'),
          () => setCopied('failed'),
        );
        setTimeout(() => setCopied('idle'), 2000);
      }}
    >
      {copied === 'done' ? 'Copied' : copied === 'failed' ? 'Select and copy' : label}
      <span className="visually-hidden" aria-live="polite">
        {copied === 'done' ? ' — copied to the clipboard' : ''}
      </span>
    </button>
  );
}

export function ErrorNote({ error }: { error: string | null | undefined }) {
  if (!error) return null;
  return (
    <p className="note note-error" role="alert">
      {error}
    </p>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <p className="empty-title">{title}</p>
      {children ? <p className="muted">{children}</p> : null}
    </div>
  );
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
export const when = (iso: string | null | undefined, never = 'Never'): string => (iso ? dateFormat.format(new Date(iso)) : never);

export function Badge({ tone, children }: { tone: 'ok' | 'warn' | 'bad' | 'neutral'; children: ReactNode }) {
  return <span className={`badge badge-${tone}`}>{children}</span>;
}
