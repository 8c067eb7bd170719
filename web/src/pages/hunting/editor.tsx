// The KQL editor: CodeMirror 6 with the KQL language, completion from the schema, and Ctrl+Enter /
// Shift+Enter to run. Tab is left to the browser (focus moves on), Escape leaves the editor.
import { useEffect, useRef } from "preact/hooks";
import { Compartment, EditorState } from "@codemirror/state";
import { EditorView, keymap, lineNumbers, highlightActiveLine, drawSelection, placeholder } from "@codemirror/view";
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { autocompletion, closeBrackets, closeCompletion, closeBracketsKeymap, completionKeymap } from "@codemirror/autocomplete";
import { bracketMatching } from "@codemirror/language";
import { highlightSelectionMatches, searchKeymap } from "@codemirror/search";
import { kqlCompletions, kqlHighlight, makeKqlLanguage, type HuntingSchema } from "./kql-language";

export interface EditorHandle {
  insert: (text: string) => void;
  focus: () => void;
}

export interface KqlEditorProps {
  // The document to show: replaced only when `seq` changes (a query opened from outside), so the
  // editor's own changes echoing back through the parent's state never fight with typing.
  load: { text: string; seq: number };
  onChange: (v: string) => void;
  onRun: () => void;
  schema: HuntingSchema | undefined;
  handle: { current: EditorHandle | null };
  onEscape?: () => void;
}

export function KqlEditor(p: KqlEditorProps) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const lang = useRef(new Compartment());
  const latest = useRef(p);
  latest.current = p;

  useEffect(() => {
    const run = (v: EditorView) => {
      closeCompletion(v);
      latest.current.onRun();
      return true;
    };
    const state = EditorState.create({
      doc: p.load.text,
      extensions: [
        lineNumbers(),
        history(),
        drawSelection(),
        highlightActiveLine(),
        bracketMatching(),
        closeBrackets(),
        highlightSelectionMatches(),
        lang.current.of(makeKqlLanguage()),
        kqlHighlight,
        autocompletion({ override: [kqlCompletions(() => latest.current.schema)], activateOnTyping: true }),
        placeholder("DeviceProcessEvents | where Timestamp > ago(1d) | take 100"),
        keymap.of([
          { key: "Mod-Enter", run, preventDefault: true },
          { key: "Shift-Enter", run, preventDefault: true },
        ]),
        keymap.of(completionKeymap),
        keymap.of([
          {
            key: "Escape",
            run: (v) => {
              // Completion's own Escape (closing the list) runs first.
              v.contentDOM.blur();
              latest.current.onEscape?.();
              return true;
            },
          },
        ]),
        keymap.of([...closeBracketsKeymap, ...searchKeymap, ...historyKeymap, ...defaultKeymap]),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) latest.current.onChange(u.state.doc.toString());
        }),
        EditorView.contentAttributes.of({ "aria-label": "KQL query", "aria-multiline": "true" }),
        EditorView.lineWrapping,
      ],
    });
    view.current = new EditorView({ state, parent: host.current! });
    p.handle.current = {
      insert: (text: string) => {
        const v = view.current!;
        const sel = v.state.selection.main;
        const before = v.state.sliceDoc(Math.max(0, sel.from - 1), sel.from);
        const pad = before && !/[\s(|,.]/.test(before) ? " " : "";
        v.dispatch({ changes: { from: sel.from, to: sel.to, insert: pad + text }, selection: { anchor: sel.from + pad.length + text.length } });
        v.focus();
      },
      focus: () => view.current?.focus(),
    };
    return () => view.current?.destroy();
  }, []);

  // Table and column names highlight once the schema is known: tokenize again.
  useEffect(() => {
    if (p.schema) view.current?.dispatch({ effects: lang.current.reconfigure(makeKqlLanguage()) });
  }, [p.schema]);

  // A query loaded from outside (saved query, example, URL) replaces the document.
  useEffect(() => {
    const v = view.current;
    if (v && p.load.seq > 0 && v.state.doc.toString() !== p.load.text) {
      v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: p.load.text }, selection: { anchor: p.load.text.length } });
    }
  }, [p.load.seq]);

  return <div ref={host} class="hunt-editor" data-testid="hunting-editor" />;
}
