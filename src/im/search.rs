//! Full-text search over messages, Chinese included. Our own tokenizer makes the terms —
//! lower-cased words, and for CJK every character and every pair of neighbouring characters —
//! so both engines only match whole terms: FTS5 on SQLite, a GIN-indexed array on
//! PostgreSQL. A CJK query of n characters becomes its n-1 bigrams (all required), and hits
//! are checked for the exact substring, since bigrams alone may match out of order.

use sea_orm::{DbBackend, FromQueryResult, Statement, Value};

use super::{ImError, entities::message, model::ConversationId};

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // kana
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0xF900..=0xFAFF    // compatibility ideographs
        | 0x20000..=0x2FA1F) // extensions B-F and supplements
}

/// Words and CJK runs of a text, in order.
fn pieces(text: &str) -> (Vec<String>, Vec<Vec<char>>) {
    let mut words = Vec::new();
    let mut runs = Vec::new();
    let mut word = String::new();
    let mut run: Vec<char> = Vec::new();
    for c in text.chars() {
        if is_cjk(c) {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            run.push(c);
        } else if c.is_alphanumeric() {
            if !run.is_empty() {
                runs.push(std::mem::take(&mut run));
            }
            word.extend(c.to_lowercase());
        } else {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            if !run.is_empty() {
                runs.push(std::mem::take(&mut run));
            }
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    if !run.is_empty() {
        runs.push(run);
    }
    // Very long "words" (hashes, base64) only bloat the index.
    words.retain(|w| w.chars().count() <= 40);
    (words, runs)
}

/// The terms to index for a text, space-separated (`None` when there are none).
pub fn index_terms(text: &str) -> Option<String> {
    let (words, runs) = pieces(text);
    let mut terms: Vec<String> = words;
    for run in runs {
        for (i, c) in run.iter().enumerate() {
            terms.push(c.to_string());
            if let Some(next) = run.get(i + 1) {
                terms.push([*c, *next].iter().collect());
            }
        }
    }
    terms.sort_unstable();
    terms.dedup();
    (!terms.is_empty()).then(|| terms.join(" "))
}

/// A parsed search query: the terms that must all be present, and the CJK substrings the text
/// must contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub terms: Vec<String>,
    pub phrases: Vec<String>,
}

/// The longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 100;

impl Query {
    /// A query of at most `MAX_QUERY_CHARS`; one without words or characters to look for
    /// (`!!`) has no terms and finds nothing.
    pub fn parse(text: &str) -> Result<Self, ImError> {
        if text.chars().count() > MAX_QUERY_CHARS {
            return Err(ImError::invalid(
                "q",
                format!("at most {MAX_QUERY_CHARS} characters"),
            ));
        }
        let (words, runs) = pieces(text);
        let mut terms = words;
        let mut phrases = Vec::new();
        for run in runs {
            if run.len() == 1 {
                terms.push(run[0].to_string());
            } else {
                for pair in run.windows(2) {
                    terms.push(pair.iter().collect());
                }
                phrases.push(run.iter().collect());
            }
        }
        terms.sort_unstable();
        terms.dedup();
        Ok(Self { terms, phrases })
    }

    /// Whether a hit's text really contains the CJK phrases.
    pub fn confirms(&self, text: &str) -> bool {
        self.phrases.iter().all(|p| text.contains(p.as_str()))
    }
}

/// `?` on SQLite, `$n` on PostgreSQL.
pub fn placeholder(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".into(),
    }
}

/// The statement that indexes messages (`(gid, terms)` pairs).
pub fn insert_statement(backend: DbBackend, rows: &[(i64, &str)]) -> Option<Statement> {
    if rows.is_empty() {
        return None;
    }
    let mut sql = match backend {
        DbBackend::Postgres => String::from("INSERT INTO im_search (gid, terms) VALUES "),
        _ => String::from("INSERT INTO im_search (rowid, terms) VALUES "),
    };
    let mut values: Vec<Value> = Vec::with_capacity(rows.len() * 2);
    for (i, (gid, terms)) in rows.iter().enumerate() {
        if i > 0 {
            sql.push(',');
        }
        let (a, b) = (
            placeholder(backend, i * 2 + 1),
            placeholder(backend, i * 2 + 2),
        );
        match backend {
            DbBackend::Postgres => sql.push_str(&format!("({a}, string_to_array({b}, ' '))")),
            _ => sql.push_str(&format!("({a}, {b})")),
        }
        values.push((*gid).into());
        values.push((*terms).to_owned().into());
    }
    Some(Statement::from_sql_and_values(backend, sql, values))
}

/// The statement that removes a message from the index.
pub fn delete_statement(backend: DbBackend, gid: i64) -> Statement {
    let sql = match backend {
        DbBackend::Postgres => "DELETE FROM im_search WHERE gid = $1",
        _ => "DELETE FROM im_search WHERE rowid = ?",
    };
    Statement::from_sql_and_values(backend, sql, [gid.into()])
}

/// Messages matching `query`, newest first, limited to `conversations` when given.
pub async fn find(
    db: &sea_orm::DatabaseConnection,
    query: &Query,
    conversations: Option<&[ConversationId]>,
    limit: u64,
) -> Result<Vec<message::Model>, ImError> {
    let backend = db.get_database_backend();
    let mut values: Vec<Value> = Vec::new();
    let mut sql = match backend {
        DbBackend::Postgres => {
            values.push(query.terms.join(" ").into());
            String::from(
                "SELECT m.* FROM im_search s JOIN im_messages m ON m.gid = s.gid \
                 WHERE s.terms @> string_to_array($1, ' ')",
            )
        }
        _ => {
            let expression: Vec<String> = query.terms.iter().map(|t| format!("\"{t}\"")).collect();
            values.push(expression.join(" ").into());
            String::from(
                "SELECT m.* FROM im_search JOIN im_messages m ON m.gid = im_search.rowid \
                 WHERE im_search MATCH ?",
            )
        }
    };
    if let Some(ids) = conversations {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        sql.push_str(" AND m.conversation_id IN (");
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            values.push(Value::Uuid(Some(id.0)));
            sql.push_str(&placeholder(backend, values.len()));
        }
        sql.push(')');
    }
    sql.push_str(" AND m.recalled = ");
    sql.push_str(match backend {
        DbBackend::Postgres => "false",
        _ => "0",
    });
    values.push((limit as i64).into());
    sql.push_str(&format!(
        " ORDER BY m.gid DESC LIMIT {}",
        placeholder(backend, values.len())
    ));
    let rows =
        message::Model::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
            .all(db)
            .await?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_is_indexed_by_characters_and_pairs() {
        let terms = index_terms("明天开会 in Room-42").unwrap();
        for t in ["明", "明天", "天开", "开会", "会", "in", "room", "42"] {
            assert!(terms.split(' ').any(|x| x == t), "{t} in {terms}");
        }
        assert_eq!(index_terms("  ... "), None);
    }

    #[test]
    fn queries_need_every_bigram_and_the_phrase() {
        let q = Query::parse("开会").unwrap();
        assert_eq!(q.terms, vec!["开会".to_owned()]);
        let q = Query::parse("明天开会 Room").unwrap();
        assert!(q.terms.contains(&"天开".to_owned()) && q.terms.contains(&"room".to_owned()));
        assert!(q.confirms("我们明天开会吧"));
        assert!(!q.confirms("开会明天"));
        assert!(Query::parse("!!").unwrap().terms.is_empty());
        assert!(Query::parse(&"字".repeat(MAX_QUERY_CHARS + 1)).is_err());
    }
}
