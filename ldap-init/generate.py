#!/usr/bin/env python3
"""Generate an LDIF company for the development/test slapd (see README.md).

    generate.py --staff N --departments M [--seed S] [--base dc=example,dc=com]
    generate.py --sample                     # the fixed sample company (sample.ldif)

The LDIF goes to stdout. It holds the company only: the root OU (ou=Stellar,BASE), the
department OUs below it, the staff (inetOrgPerson, RDN uid=..., under their department) and
groupOfNames entries under ou=Groups,BASE. The base entry, ou=Groups and ou=Services are
added by start.sh itself, so they are not emitted here. Parents always come before their
children, so the output loads with slapadd. Non-ASCII values are base64-encoded (attr:: ...).

Standard library only.
"""

import argparse
import base64
import hashlib
import random
import sys

COMPANY_OU = "Stellar"
COMPANY_DESC = "星辰科技 Stellar Technology"
PASSWORD = "password"

# Top-level divisions: (ou, Chinese name, English name, businessCategory)
DIVISIONS = [
    ("Executive", "总裁办", "Executive Office", "executive"),
    ("RD", "研发中心", "R&D", "business"),
    ("Sales", "销售部", "Sales", "business"),
    ("HR", "人力资源部", "Human Resources", "support"),
    ("Finance", "财务部", "Finance", "support"),
    ("Marketing", "市场部", "Marketing", "business"),
    ("Operations", "运营部", "Operations", "business"),
    ("IT", "信息技术部", "IT", "support"),
    ("Legal", "法务部", "Legal", "support"),
    ("Service", "客户服务部", "Customer Service", "business"),
    ("Manufacturing", "生产部", "Manufacturing", "business"),
    ("Logistics", "物流部", "Logistics", "business"),
]

# Teams below the divisions: (ou prefix, Chinese name, English name)
TEAMS = [
    ("Backend", "后端组", "Backend"),
    ("Frontend", "前端组", "Frontend"),
    ("QA", "测试组", "QA"),
    ("Platform", "平台组", "Platform"),
    ("Data", "数据组", "Data"),
    ("SRE", "运维组", "SRE"),
    ("Security", "安全组", "Security"),
    ("Mobile", "移动组", "Mobile"),
    ("East", "华东区", "East"),
    ("North", "华北区", "North"),
    ("South", "华南区", "South"),
    ("West", "西部区", "West"),
    ("KeyAccounts", "大客户组", "Key Accounts"),
    ("Recruiting", "招聘组", "Recruiting"),
    ("Payroll", "薪酬组", "Payroll"),
    ("Training", "培训组", "Training"),
    ("Accounting", "会计组", "Accounting"),
    ("Tax", "税务组", "Tax"),
    ("Brand", "品牌组", "Brand"),
    ("Support", "支持组", "Support"),
]

# (Chinese surname, pinyin); includes a few two-character surnames.
SURNAMES = [
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"),
    ("杨", "yang"), ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"),
    ("徐", "xu"), ("孙", "sun"), ("马", "ma"), ("朱", "zhu"), ("胡", "hu"),
    ("郭", "guo"), ("何", "he"), ("高", "gao"), ("林", "lin"), ("罗", "luo"),
    ("郑", "zheng"), ("梁", "liang"), ("谢", "xie"), ("宋", "song"), ("唐", "tang"),
    ("许", "xu"), ("韩", "han"), ("冯", "feng"), ("邓", "deng"), ("曹", "cao"),
    ("彭", "peng"), ("曾", "zeng"), ("肖", "xiao"), ("田", "tian"), ("董", "dong"),
    ("袁", "yuan"), ("潘", "pan"), ("于", "yu"), ("蒋", "jiang"), ("蔡", "cai"),
    ("余", "yu"), ("杜", "du"), ("叶", "ye"), ("程", "cheng"), ("苏", "su"),
    ("魏", "wei"), ("吕", "lv"), ("丁", "ding"), ("任", "ren"), ("沈", "shen"),
    ("姚", "yao"), ("卢", "lu"), ("姜", "jiang"), ("崔", "cui"), ("钟", "zhong"),
    ("谭", "tan"), ("陆", "lu"), ("汪", "wang"), ("范", "fan"), ("金", "jin"),
    ("石", "shi"), ("廖", "liao"), ("贾", "jia"), ("夏", "xia"), ("韦", "wei"),
    ("方", "fang"), ("白", "bai"), ("邹", "zou"), ("孟", "meng"), ("熊", "xiong"),
    ("秦", "qin"), ("邱", "qiu"), ("江", "jiang"), ("尹", "yin"), ("薛", "xue"),
    ("段", "duan"), ("雷", "lei"), ("侯", "hou"), ("龙", "long"), ("史", "shi"),
    ("陶", "tao"), ("贺", "he"), ("顾", "gu"), ("毛", "mao"), ("郝", "hao"),
    ("龚", "gong"), ("邵", "shao"), ("万", "wan"), ("钱", "qian"), ("严", "yan"),
    ("武", "wu"), ("戴", "dai"), ("孔", "kong"), ("汤", "tang"),
    ("欧阳", "ouyang"), ("司马", "sima"), ("诸葛", "zhuge"), ("上官", "shangguan"),
]

# (given name, pinyin); single characters are also combined into two-character names.
GIVEN = [
    ("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"),
    ("丽", "li"), ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"),
    ("勇", "yong"), ("艳", "yan"), ("杰", "jie"), ("娟", "juan"), ("涛", "tao"),
    ("明", "ming"), ("超", "chao"), ("霞", "xia"), ("平", "ping"), ("刚", "gang"),
    ("华", "hua"), ("文", "wen"), ("晨", "chen"), ("婷", "ting"), ("浩", "hao"),
    ("宇", "yu"), ("欣", "xin"), ("佳", "jia"), ("琳", "lin"), ("丹", "dan"),
    ("颖", "ying"), ("博", "bo"), ("鹏", "peng"), ("辉", "hui"), ("玲", "ling"),
    ("倩", "qian"), ("斌", "bin"), ("凯", "kai"), ("然", "ran"), ("睿", "rui"),
    ("雪", "xue"), ("峰", "feng"), ("慧", "hui"), ("健", "jian"), ("红", "hong"),
]
GIVEN2 = [
    ("秀英", "xiuying"), ("桂英", "guiying"), ("建华", "jianhua"), ("建国", "jianguo"),
    ("子涵", "zihan"), ("梓轩", "zixuan"), ("雨萱", "yuxuan"), ("一诺", "yinuo"),
    ("思远", "siyuan"), ("志强", "zhiqiang"), ("海燕", "haiyan"), ("晓东", "xiaodong"),
    ("晓明", "xiaoming"), ("国栋", "guodong"), ("嘉怡", "jiayi"), ("俊杰", "junjie"),
]

FIRST = [
    "Alice", "Bob", "Carol", "David", "Emma", "Frank", "Grace", "Henry", "Irene", "Jack",
    "Karen", "Leo", "Mia", "Nathan", "Olivia", "Peter", "Quinn", "Rachel", "Sam", "Tina",
    "Victor", "Wendy", "Xavier", "Yvonne", "Zoe", "James", "Linda", "Michael", "Sarah",
    "Daniel", "Laura", "Kevin", "Emily", "Brian", "Sophie", "Eric", "Anna", "Chris",
]
LAST = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor",
    "Anderson", "Thomas", "Moore", "Martin", "Lee", "White", "Harris", "Clark", "Lewis",
    "Walker", "Hall", "Young", "King", "Wright", "Scott", "Green", "Baker", "Adams",
    "Nelson", "Carter", "Mitchell", "Roberts", "Turner", "Phillips", "Campbell", "O'Brien",
]

TITLES = {
    "employee": ["Engineer", "Senior Engineer", "Manager", "Specialist", "Analyst",
                 "Designer", "Accountant", "Sales Representative", "Team Lead"],
    "contractor": ["Contractor", "Consultant"],
    "intern": ["Intern"],
    "executive": ["Vice President", "Director", "Chief Financial Officer", "Chief Technology Officer"],
}


def ssha(password, salt):
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def attr(name, value):
    """One LDIF attribute line; base64 when the value is not SAFE-STRING (RFC 2849)."""
    if value and value.isascii() and value[0] not in " :<" and value[-1] != " " \
            and "\n" not in value and "\r" not in value and "\0" not in value:
        return f"{name}: {value}\n"
    return f"{name}:: {base64.b64encode(value.encode('utf-8')).decode()}\n"


def mail_domain(base):
    parts = [rdn.split("=", 1)[1] for rdn in base.split(",") if rdn.strip().lower().startswith("dc=")]
    return ".".join(parts) if parts else "example.com"


class Writer:
    def __init__(self, base, out):
        self.base = base
        self.out = out
        self.buf = []
        self.domain = mail_domain(base)
        self.company_dn = f"ou={COMPANY_OU},{base}"
        self.groups_dn = f"ou=Groups,{base}"

    def flush(self):
        self.out.write("".join(self.buf))
        self.buf = []

    def emit(self, text):
        self.buf.append(text)
        if len(self.buf) >= 2000:
            self.flush()

    def ou(self, dn, ou, description, category):
        self.emit(
            f"dn: {dn}\nobjectClass: top\nobjectClass: organizationalUnit\n"
            + attr("ou", ou) + attr("description", description) + attr("businessCategory", category)
            + "\n")

    def person(self, dept_dn, dept_ou, uid, cn, sn, given, display, etype, title, number,
               phone, mobile, password_hash, mail=True):
        lines = [
            f"dn: uid={uid},{dept_dn}\n",
            "objectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\n"
            "objectClass: inetOrgPerson\n",
            f"uid: {uid}\n", attr("cn", cn), attr("sn", sn), attr("givenName", given),
            attr("displayName", display),
        ]
        if mail:
            lines.append(f"mail: {uid}@{self.domain}\n")
        if phone:
            lines.append(f"telephoneNumber: {phone}\n")
        if mobile:
            lines.append(f"mobile: {mobile}\n")
        lines += [attr("title", title), f"employeeType: {etype}\n",
                  f"employeeNumber: {number}\n", attr("departmentNumber", dept_ou)]
        if password_hash:
            lines.append(f"userPassword: {password_hash}\n")
        lines.append("\n")
        self.emit("".join(lines))
        return f"uid={uid},{dept_dn}"

    def group(self, cn, description, members):
        lines = [f"dn: cn={cn},{self.groups_dn}\nobjectClass: top\nobjectClass: groupOfNames\n",
                 f"cn: {cn}\n", attr("description", description)]
        lines += [attr("member", m) for m in members]
        lines.append("\n")
        self.emit("".join(lines))
        return f"cn={cn},{self.groups_dn}"


def phone_numbers(rng):
    return (f"+86 10 {rng.randrange(6000, 9000)} {rng.randrange(10000):04d}",
            f"+86 1{rng.choice('3589')}{rng.randrange(10)} {rng.randrange(10000):04d} {rng.randrange(10000):04d}")


# --------------------------------------------------------------------------------------
# The fixed sample company
# --------------------------------------------------------------------------------------

# (ou, parent ou or None for the company root, Chinese, English, businessCategory)
SAMPLE_OUS = [
    ("RD", None, "研发中心", "R&D", "business"),
    ("Backend", "RD", "后端组", "Backend", "team"),
    ("Frontend", "RD", "前端组", "Frontend", "team"),
    ("QA", "RD", "测试组", "QA", "team"),
    ("Sales", None, "销售部", "Sales", "business"),
    ("East", "Sales", "华东区", "East Region", "team"),
    ("Shanghai", "East", "上海办事处", "Shanghai Office", "team"),
    ("North", "Sales", "华北区", "North Region", "team"),
    ("HR", None, "人力资源部", "Human Resources", "support"),
    ("Finance", None, "财务部", "Finance", "support"),
    ("IT", None, "信息技术部", "IT", "support"),
    ("Executive", None, "总裁办", "Executive Office", "executive"),
]

# (uid, ou, cn, sn, givenName, displayName, employeeType, title)
# displayName == cn unless given. A trailing "!" on the uid means: no userPassword.
SAMPLE_STAFF = [
    ("ceo", "Executive", "王建国", "王", "建国", "王总", "executive", "Chief Executive Officer"),
    ("cfo", "Executive", "Linda Johnson", "Johnson", "Linda", None, "executive", "Chief Financial Officer"),
    ("lijing", "Executive", "李静", "李", "静", None, "employee", "Executive Assistant"),
    ("cto", "RD", "刘强", "刘", "强", None, "executive", "Chief Technology Officer"),
    ("chenming", "RD", "陈明", "陈", "明", None, "employee", "Architect"),
    ("zhangwei", "Backend", "张伟", "张", "伟", None, "employee", "Engineer"),
    ("wangfang", "Backend", "王芳", "王", "芳", None, "employee", "Senior Engineer"),
    ("bob", "Backend", "Bob Brown", "Brown", "Bob", None, "employee", "Team Lead"),
    ("zhaolei", "Backend", "赵磊", "赵", "磊", None, "contractor", "Contractor"),
    ("ouyangxue", "Backend", "欧阳雪", "欧阳", "雪", None, "intern", "Intern"),
    ("alice", "Frontend", "Alice Smith", "Smith", "Alice", None, "employee", "Engineer"),
    ("yangyang", "Frontend", "杨洋", "杨", "洋", None, "employee", "Senior Engineer"),
    ("huangting", "Frontend", "黄婷", "黄", "婷", None, "employee", "Designer"),
    ("zhoujie", "Frontend", "周杰", "周", "杰", None, "intern", "Intern"),
    ("carol", "QA", "Carol White", "White", "Carol", None, "employee", "QA Engineer"),
    ("wuhao", "QA", "吴浩", "吴", "浩", None, "employee", "QA Engineer"),
    ("xumin", "QA", "徐敏", "徐", "敏", None, "contractor!", "Contractor"),
    ("sunli", "Sales", "孙丽", "孙", "丽", None, "executive", "Vice President of Sales"),
    ("david", "Sales", "David Miller", "Miller", "David", None, "employee", "Sales Manager"),
    ("mayong", "East", "马勇", "马", "勇", None, "employee", "Regional Manager"),
    ("zhujuan", "East", "朱娟", "朱", "娟", None, "employee", "Sales Representative"),
    ("huchao", "Shanghai", "胡超", "胡", "超", None, "employee", "Sales Representative"),
    ("guoxia", "Shanghai", "郭霞", "郭", "霞", None, "employee", "Sales Representative"),
    ("emma", "Shanghai", "Emma Wilson", "Wilson", "Emma", None, "contractor", "Consultant"),
    ("heping", "North", "何平", "何", "平", None, "employee", "Regional Manager"),
    ("gaogang", "North", "高刚", "高", "刚", None, "employee", "Sales Representative"),
    ("linhua", "North", "林华", "林", "华", None, "intern", "Intern"),
    ("luowen", "HR", "罗文", "罗", "文", None, "employee", "HR Director"),
    ("zhengchen", "HR", "郑晨", "郑", "晨", None, "employee", "Recruiter"),
    ("grace", "HR", "Grace Lee", "Lee", "Grace", None, "employee", "HR Specialist"),
    ("liangxin", "Finance", "梁欣", "梁", "欣", None, "employee", "Finance Manager"),
    ("xiejia", "Finance", "谢佳", "谢", "佳", None, "employee", "Accountant"),
    ("henry", "Finance", "Henry O'Brien", "O'Brien", "Henry", None, "contractor", "Auditor"),
    ("songlin", "IT", "宋琳", "宋", "琳", None, "employee", "IT Manager"),
    ("tangdan", "IT", "唐丹", "唐", "丹", None, "employee", "System Administrator"),
    ("frank", "IT", "Frank Davis", "Davis", "Frank", None, "employee", "Network Engineer"),
    ("hanying", "IT", "韩颖", "韩", "颖", None, "intern", "Intern"),
    ("fengbo", "RD", "冯博", "冯", "博", None, "employee", "Product Manager"),
    ("dengpeng", "Backend", "邓鹏", "邓", "鹏", None, "employee", "Engineer"),
    ("caohui", "Frontend", "曹辉", "曹", "辉", None, "employee", "Engineer"),
]


def sample(out, base):
    w = Writer(base, out)
    rng = random.Random(2024)
    pw = ssha(PASSWORD, b"ldapinit")
    w.emit("# The sample company of ldap-init (see README.md). Generated by: generate.py --sample\n"
           "# Every person's password is 'password', except uid=xumin, who has no userPassword.\n")
    w.ou(w.company_dn, COMPANY_OU, COMPANY_DESC, "company")
    dns = {}
    for ou, parent, zh, en, cat in SAMPLE_OUS:
        parent_dn = dns[parent] if parent else w.company_dn
        dns[ou] = f"ou={ou},{parent_dn}"
        w.ou(dns[ou], ou, f"{zh} {en}", cat)
    people = {}
    for n, (uid, ou, cn, sn, given, display, etype, title) in enumerate(SAMPLE_STAFF, 1):
        nopw = etype.endswith("!")
        etype = etype.rstrip("!")
        phone, mobile = phone_numbers(rng)
        people[uid] = w.person(dns[ou], ou, uid, cn, sn, given, display or cn, etype, title,
                               f"S{n:04d}", phone, mobile, None if nopw else pw)
    by_ou = {}
    for s in SAMPLE_STAFF:
        by_ou.setdefault(s[1], []).append(people[s[0]])
    it_admins = w.group("it-admins", "IT 管理员 IT administrators", [people["songlin"], people["tangdan"]])
    w.group("hr-staff", "人力资源 HR staff", by_ou["HR"])
    w.group("managers", "管理层 Managers (contains the group it-admins)",
            [people[u] for u in ("ceo", "cto", "sunli", "luowen", "liangxin", "bob")] + [it_admins])
    loop_a = f"cn=loop-a,{w.groups_dn}"
    loop_b = f"cn=loop-b,{w.groups_dn}"
    w.group("loop-a", "Cycle test: contains loop-b", [people["alice"], loop_b])
    w.group("loop-b", "Cycle test: contains loop-a", [people["zhangwei"], loop_a])
    w.group("rd-all", "研发中心全体 All of R&D",
            by_ou["RD"] + by_ou["Backend"] + by_ou["Frontend"] + by_ou["QA"])
    w.flush()


# --------------------------------------------------------------------------------------
# A generated company of any size
# --------------------------------------------------------------------------------------

def generated(out, base, staff, departments, seed, fanout):
    rng = random.Random(seed)
    w = Writer(base, out)
    pw = ssha(PASSWORD, b"ldapinit")
    w.ou(w.company_dn, COMPANY_OU, COMPANY_DESC, "company")

    # Node 0 is the company root; department k (1..M) has parent (k-1)//fanout, so the tree
    # is filled level by level (fan-out 10: 10, 100, 1000, 10000 ... per level).
    dept_dn = [w.company_dn]
    dept_ou = [COMPANY_OU]
    division = [None]  # index of the top-level division each department belongs to
    for k in range(1, departments + 1):
        parent = (k - 1) // fanout
        if parent == 0:
            d = DIVISIONS[(k - 1) % len(DIVISIONS)]
            ou = d[0] if k <= len(DIVISIONS) else f"{d[0]}-{k}"
            desc = f"{d[1]} {d[2]}" if k <= len(DIVISIONS) else f"{d[1]}{k} {d[2]} {k}"
            cat = d[3]
            division.append(k)
        else:
            t = TEAMS[rng.randrange(len(TEAMS))]
            ou = f"{t[0]}-{k}"
            desc = f"{t[1]}{k} {t[2]} {k}"
            cat = "team"
            division.append(division[parent])
        dn = f"ou={ou},{dept_dn[parent]}"
        dept_dn.append(dn)
        dept_ou.append(ou)
        w.ou(dn, ou, desc, cat)

    used = set()

    def unique(uid):
        if uid not in used:
            used.add(uid)
            return uid
        n = 2
        while f"{uid}{n}" in used:
            n += 1
        used.add(f"{uid}{n}")
        return f"{uid}{n}"

    types = ["employee"] * 80 + ["contractor"] * 10 + ["intern"] * 8 + ["executive"] * 2
    members_by_division = {}
    all_people = []
    for i in range(1, staff + 1):
        d = rng.randrange(1, departments + 1) if departments else 0
        if rng.random() < 0.2:
            first, last = rng.choice(FIRST), rng.choice(LAST)
            uid = unique(f"{first}.{last}".lower().replace("'", ""))
            cn = display = f"{first} {last}"
            sn, given = last, first
        else:
            s_zh, s_py = rng.choice(SURNAMES)
            if rng.random() < 0.5:
                g_zh, g_py = rng.choice(GIVEN)
            elif rng.random() < 0.5:
                g_zh, g_py = rng.choice(GIVEN2)
            else:
                (a_zh, a_py), (b_zh, b_py) = rng.choice(GIVEN), rng.choice(GIVEN)
                g_zh, g_py = a_zh + b_zh, a_py + b_py
            uid = unique(s_py + g_py)
            cn = display = s_zh + g_zh
            sn, given = s_zh, g_zh
        etype = rng.choice(types)
        title = rng.choice(TITLES[etype])
        phone, mobile = phone_numbers(rng)
        dn = w.person(dept_dn[d], dept_ou[d], uid, cn, sn, given, display, etype, title,
                      f"E{i:06d}", phone, mobile, pw)
        all_people.append(dn)
        members = members_by_division.setdefault(division[d], [])
        if len(members) < 50:
            members.append(dn)

    def pick(n):
        return rng.sample(all_people, min(n, len(all_people)))

    if all_people:
        hr = next((k for k in range(1, min(departments, len(DIVISIONS)) + 1)
                   if DIVISIONS[k - 1][0] == "HR"), None)
        it_admins = w.group("it-admins", "IT 管理员 IT administrators", pick(2))
        w.group("hr-staff", "人力资源 HR staff",
                members_by_division.get(hr) or pick(5))
        w.group("managers", "管理层 Managers (contains the group it-admins)", pick(10) + [it_admins])
        loop_a = f"cn=loop-a,{w.groups_dn}"
        loop_b = f"cn=loop-b,{w.groups_dn}"
        w.group("loop-a", "Cycle test: contains loop-b", pick(1) + [loop_b])
        w.group("loop-b", "Cycle test: contains loop-a", pick(1) + [loop_a])
        for k, members in sorted((k, m) for k, m in members_by_division.items() if k):
            w.group(f"dept-{dept_ou[k].lower()}", f"{dept_ou[k]} (first 50 staff)", members)
    w.flush()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--staff", type=int, default=1000, help="number of staff (default 1000)")
    p.add_argument("--departments", type=int, default=100,
                   help="number of department OUs below ou=Stellar (default 100)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--base", default="dc=example,dc=com", help="base DN (default dc=example,dc=com)")
    p.add_argument("--fanout", type=int, default=10, help="children per OU (default 10)")
    p.add_argument("--sample", action="store_true",
                   help="emit the fixed sample company (sample.ldif) instead")
    a = p.parse_args()
    if a.staff < 0 or a.departments < 0 or a.fanout < 1:
        p.error("--staff and --departments must be >= 0, --fanout >= 1")
    out = open(sys.stdout.fileno(), "w", encoding="utf-8", buffering=1 << 20, closefd=False)
    try:
        if a.sample:
            sample(out, a.base)
        else:
            generated(out, a.base, a.staff, a.departments, a.seed, a.fanout)
        out.flush()
    except BrokenPipeError:
        sys.exit(1)


if __name__ == "__main__":
    main()
