//! HTML building blocks: escaping and the page shell. No template engine: the counter PC may
//! be old, and the page is small enough to build with `format!` — but every value that comes
//! from data goes through [`esc`].

use axum::response::Html;

/// Escapes text for use in HTML content and in double- or single-quoted attributes.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page shell: language, viewport, and a small inline stylesheet (no extra requests).
pub(crate) fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head><body>{body}</body></html>\n",
        title = esc(title),
    ))
}

/// The headers every answer carries (`sotto_protocol::web`), for this page's stylesheet.
pub(crate) static SECURITY_HEADERS: std::sync::LazyLock<[(&str, String); 5]> =
    std::sync::LazyLock::new(|| sotto_protocol::web::security_headers(STYLE));

/// One neutral colour for every code: the letter must not tell onlookers anything.
const STYLE: &str = "\
body{font:16px/1.45 system-ui,Arial,sans-serif;margin:0;color:#1a1a1a;background:#fff}\
header{background:#1d3557;color:#fff;padding:.5rem 1rem}\
header h1{font-size:1.25rem;margin:0}header p{margin:0}\
main{padding:1rem;max-width:60rem}\
.forms{display:flex;flex-wrap:wrap;gap:1rem}\
form{border:1px solid #8a94a6;padding:.75rem;border-radius:4px}\
form h2{font-size:1rem;margin:0 0 .5rem}\
label{display:block;font-weight:600;margin-top:.4rem}\
input,select{font-size:1.1rem;padding:.3rem;border:1px solid #444;border-radius:3px;\
min-height:44px;box-sizing:border-box;max-width:100%}\
select{min-width:min(16rem,100%);background:#fff;color:#1a1a1a}\
button{font-size:1.05rem;padding:.35rem 1.2rem;margin-top:.6rem;background:#1d3557;\
color:#fff;border:0;border-radius:4px;cursor:pointer;min-height:44px}\
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);\
white-space:nowrap}\
:focus{outline:3px solid #e9a800;outline-offset:1px}\
.person{border-top:2px solid #c8d0dc;margin-top:1rem;padding-top:.5rem}\
.person h3{margin:.2rem 0;font-size:1.3rem}.who{margin:0 0 .5rem}\
.status{display:flex;gap:1rem;align-items:flex-start}\
.code{font-size:4rem;font-weight:700;line-height:1;min-width:5.5rem;text-align:center;\
margin:0;padding:.6rem 0;background:#e3eaf3;color:#1d3557;border-radius:6px}\
.meaning{font-size:1.15rem;font-weight:600;margin:.2rem 0}\
.stale{display:inline-block;border:2px dashed #333;padding:.2rem .5rem;font-weight:600;margin:.3rem 0}\
.notice{padding:.5rem;background:#f1f3f6;border-left:4px solid #1d3557}\
details{margin-top:2rem;border-top:1px solid #c8d0dc;padding-top:.5rem}\
summary{cursor:pointer;font-weight:600;min-height:24px;padding:.5rem 0}\
dt{font-weight:700;margin-top:.4rem}\
table{border-collapse:collapse;max-width:100%}th,td{text-align:left;padding:.2rem .6rem .2rem 0;vertical-align:top}\
caption{text-align:left}main{overflow-wrap:break-word}a{color:#0b4a8b}\
main>p>a,.notice a,.back a{display:inline-block;min-height:24px;padding:.3rem 0}\
@media (max-width:600px){main{padding:.6rem}header{padding:.5rem .6rem}\
.code{font-size:3rem;min-width:4.2rem}.status{gap:.6rem}}\
.today h2{font-size:1.2rem;margin:1.2rem 0 .3rem}\
.tabs{display:flex;flex-wrap:wrap;gap:.4rem;margin:.3rem 0}\
.tabs a{display:inline-block;min-height:24px;padding:.45rem .8rem;border:1px solid #8a94a6;\
border-radius:4px;text-decoration:none}.tabs a[aria-current]{background:#1d3557;color:#fff}\
.sort a[aria-current]{font-weight:700;color:#1a1a1a}\
.scroll{overflow-x:auto;max-width:100%}\
.list{border-collapse:collapse;width:100%}\
.list th,.list td{border-bottom:1px solid #c8d0dc;padding:.35rem .6rem .35rem 0}\
.list-code{font-size:1.5rem;font-weight:700;color:#1d3557}\
.list form{border:0;padding:0}.list button{margin-top:0}.list p{margin:0}\
.doses{margin:0;padding:0;list-style:none}.small{font-size:.9rem}\
.sheet{max-width:none;color:#000;background:#fff}.sheet h1{font-size:1.3rem;margin:0}\
.sheet table{width:100%;border-collapse:collapse}\
.sheet th,.sheet td{border:1px solid #000;padding:.25rem .4rem}\
.sheet-date{font-size:1.15rem;font-weight:700;margin:.2rem 0 .6rem}\
.box{display:inline-block;width:1.1rem;height:1.1rem;border:2px solid #000}\
.line{display:inline-block;width:18rem;max-width:60%;border-bottom:1px solid #000}\
.signature{margin-top:1.5rem}\
@media print{header,nav,form,button,.no-print{display:none!important}\
body{font-size:11pt;color:#000;background:#fff}main{padding:0;max-width:none}\
.scroll{overflow:visible}a{color:#000;text-decoration:none}\
.stale,.notice{border-color:#000;background:#fff}}\
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
    }
}
